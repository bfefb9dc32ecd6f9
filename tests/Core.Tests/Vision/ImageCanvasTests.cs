using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>Canvas choice and resize size (spec §5.1 steps 2–3, HF <c>get_best_fit</c> / <c>get_max_res_without_distortion</c>).</summary>
public sealed class ImageCanvasTests
{
    [Theory]
    [InlineData(100, 100, 336, 1, 1, 336, 336)]   // tiny square: one tile, upscaled to the tile and no further
    [InlineData(336, 336, 336, 1, 1, 336, 336)]   // exactly one tile
    [InlineData(200, 300, 224, 1, 2, 200, 300)]   // HF's docstring image: upscale 1.12 ties 1×2, 1×3…; least area 1×2; kept as is
    [InlineData(672, 672, 336, 2, 2, 672, 672)]   // scale exactly 1 counts as an upscale option
    [InlineData(673, 673, 336, 3, 3, 673, 673)]   // just over 2×2: 3×3 upscales (1.498), kept at 673 (upscale limit)
    [InlineData(60, 500, 56, 1, 9, 56, 466)]      // nothing upscales: least downscale 56/60 ties 1×9…1×16; least area
    public void Chooses_the_least_upscale_else_the_least_downscale_ties_to_least_area(int h, int w, int tile, int rows, int columns, int rh, int rw)
    {
        Assert.Equal((rows, columns, rh, rw), VisionReference.Plan(h, w, tile, 16));
        Assert.Equal(new ImageCanvas(rows, columns, rh, rw), ImageCanvas.Plan(h, w, tile));
    }

    [Fact]
    public void Every_size_agrees_with_the_reference()
    {
        for (int h = 1; h <= 1400; h += 37)
            for (int w = 1; w <= 1400; w += 41)
            {
                var r = VisionReference.Plan(h, w, 336, 16);
                Assert.Equal(new ImageCanvas(r.Rows, r.Columns, r.Height, r.Width), ImageCanvas.Plan(h, w, 336));
            }
    }

    [Fact]
    public void A_downscaled_side_is_computed_in_float32_like_HF()
    {
        // 800×2400 (1:3): canvas 2×6; HF's target height is a float32 tensor (672 < 800), 672/800 rounds below 0.84 and
        // floor(2400 · 0.84f) = 2015. META's float64 arithmetic gives 2016; we follow HF.
        Assert.Equal(new ImageCanvas(2, 6, 672, 2015), ImageCanvas.Plan(800, 2400, 336));
        // …and the other way: 814×2442 is 2016 in float32, 2015 in float64.
        Assert.Equal(new ImageCanvas(2, 6, 672, 2016), ImageCanvas.Plan(814, 2442, 336));
    }

    [Fact]
    public void Supported_grids_follow_HF_order()
    {
        // HF's find_supported_resolutions docstring, max 4 chunks: ratios in first-seen order.
        Assert.Equal([(1, 4), (2, 2), (1, 1), (4, 1), (1, 3), (3, 1), (1, 2), (2, 1)], ImageCanvas.SupportedGrids(4));
        Assert.Equal(50, ImageCanvas.SupportedGrids(16).Count);
    }

    [Fact]
    public void Tile_count_includes_the_global_tile_only_for_several_tiles()
    {
        Assert.Equal(1, new ImageCanvas(1, 1, 10, 10).TileCount);
        Assert.Equal(7, new ImageCanvas(2, 3, 10, 10).TileCount);
    }
}

using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>The preprocessor against the float64 reference (<see cref="VisionReference"/>) and the spec's layout rules.</summary>
public sealed class ImagePreprocessorTests
{
    [Fact]
    public void Small_image_is_upscaled_to_one_padded_tile()
    {
        // 20×30 on 56-pixel tiles: one tile; the width limits the upscale (56/30), so 37×56 then 19 rows of padding.
        var image = TestImages.Noisy(20, 30);
        var tiles = ImagePreprocessor.Preprocess(image, 56);
        Assert.Equal((1, 1, 1), (tiles.Rows, tiles.Columns, tiles.TileCount));
        VisionReference.AssertMatches(VisionReference.Preprocess(image, 56), tiles);
        Assert.Equal(-1f, tiles.Pixels[2 * 56 * 56 + 40 * 56 + 10]); // blue plane, row 40 (≥ 37): padding
    }

    [Fact]
    public void Wide_image_keeps_its_size_on_a_row_of_tiles_and_gets_a_global_tile()
    {
        // 50×200: upscale 1.12 is the least ≥ 1, smallest area (1, 4); the upscale limit keeps 50×200 as it is.
        var image = TestImages.Noisy(50, 200);
        var tiles = ImagePreprocessor.Preprocess(image, 56);
        Assert.Equal((1, 4, 5), (tiles.Rows, tiles.Columns, tiles.TileCount));
        VisionReference.AssertMatches(VisionReference.Preprocess(image, 56), tiles);
    }

    [Fact]
    public void Wide_image_that_fits_no_canvas_is_downscaled_by_the_least()
    {
        // 60×500: no canvas of ≤ 16 tiles upscales; the least downscale (56/60) ties from 1×9 to 1×16, 1×9 has least area.
        var image = TestImages.Noisy(60, 500, seed: 7);
        var tiles = ImagePreprocessor.Preprocess(image, 56);
        Assert.Equal((1, 9), (tiles.Rows, tiles.Columns));
        Assert.Equal(new ImageCanvas(1, 9, 56, 466), ImageCanvas.Plan(60, 500, 56));
        VisionReference.AssertMatches(VisionReference.Preprocess(image, 56), tiles);
    }

    [Fact]
    public void Tall_image_tiles_run_down_the_rows()
    {
        var image = TestImages.Noisy(400, 90, seed: 99);
        var tiles = ImagePreprocessor.Preprocess(image, 56);
        Assert.True(tiles.Rows > tiles.Columns, $"{tiles.Rows}×{tiles.Columns}");
        VisionReference.AssertMatches(VisionReference.Preprocess(image, 56), tiles);
    }

    [Fact]
    public void Large_image_is_downscaled_with_the_widened_filter()
    {
        // 900×1300 on 112-pixel tiles: least downscale is 3×5 (336/900), resized to 336×485 (≈ 2.7× down, 7-tap filter).
        var image = TestImages.Noisy(900, 1300, seed: 3);
        var tiles = ImagePreprocessor.Preprocess(image, 112);
        Assert.Equal(new ImageCanvas(3, 5, 336, 485), ImageCanvas.Plan(900, 1300, 112));
        VisionReference.AssertMatches(VisionReference.Preprocess(image, 112), tiles);
    }

    [Fact]
    public void Published_tile_size_sixteen_tiles_match_the_reference()
    {
        var image = TestImages.Noisy(1500, 2000, seed: 11);
        var tiles = ImagePreprocessor.Preprocess(image, 336);
        Assert.Equal(ImageCanvas.Plan(1500, 2000, 336).TileCount, tiles.TileCount);
        Assert.True(tiles.Rows * tiles.Columns > 1);
        VisionReference.AssertMatches(VisionReference.Preprocess(image, 336), tiles);
    }

    [Fact]
    public void Padding_is_minus_one_after_normalisation_and_black_is_too()
    {
        // 10×100 on 56-pixel tiles: resized to fill one tile row of a 1×2 canvas partly; everything below is padding.
        var rgb = new byte[10 * 100 * 3];
        Array.Fill(rgb, (byte)255);
        var tiles = ImagePreprocessor.Preprocess(new RgbImage(100, 10, rgb), 56);
        var canvas = ImageCanvas.Plan(10, 100, 56);
        Assert.Equal((canvas.Rows, canvas.Columns), (tiles.Rows, tiles.Columns));
        int plane = 56 * 56;
        for (int t = 0; t < canvas.Rows * canvas.Columns; t++)
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 56; y++)
                    for (int x = 0; x < 56; x++)
                    {
                        int cy = (t / canvas.Columns) * 56 + y, cx = (t % canvas.Columns) * 56 + x;
                        float expected = cy < canvas.ResizedHeight && cx < canvas.ResizedWidth ? 1f : -1f;
                        Assert.Equal(expected, tiles.Pixels[(t * 3 + c) * plane + y * 56 + x]);
                    }
        // The global tile is the white image stretched over the whole tile: no padding.
        Assert.All(tiles.Pixels.AsSpan(canvas.Rows * canvas.Columns * 3 * plane).ToArray(), v => Assert.Equal(1f, v));
    }

    [Fact]
    public void Tiles_are_row_major_and_the_global_tile_is_the_whole_image_resized()
    {
        // 8×8 image on 4-pixel tiles: 2×2 canvas at scale 1 (no resize), each quadrant a constant; the global tile is the
        // image halved with the 2×-widened filter.
        var rgb = new byte[8 * 8 * 3];
        byte[] quadrant = [10, 60, 110, 160];
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++)
                for (int c = 0; c < 3; c++)
                    rgb[(y * 8 + x) * 3 + c] = (byte)(quadrant[(y / 4) * 2 + x / 4] + c);
        var image = new RgbImage(8, 8, rgb);
        var tiles = ImagePreprocessor.Preprocess(image, 4);
        Assert.Equal((2, 2, 5), (tiles.Rows, tiles.Columns, tiles.TileCount));
        for (int t = 0; t < 4; t++)
            for (int c = 0; c < 3; c++)
                Assert.All(tiles.Pixels.AsSpan((t * 3 + c) * 16, 16).ToArray(), v => Assert.Equal(Norm(quadrant[t] + c), v, 1e-6));
        VisionReference.AssertMatches(VisionReference.Preprocess(image, 4), tiles);
    }

    [Fact]
    public void Exact_halves_round_to_even_as_torch()
    {
        // Halving 8 → 4 gives the inner outputs taps 1/8, 3/8, 3/8, 1/8. A single 20 at column 1 (constant down the
        // columns) makes global output column 1 exactly 20/8 = 2.5: torch's round_() gives 2, not 3.
        var rgb = new byte[8 * 8 * 3];
        for (int y = 0; y < 8; y++)
            for (int c = 0; c < 3; c++)
                rgb[(y * 8 + 1) * 3 + c] = 20;
        var tiles = ImagePreprocessor.Preprocess(new RgbImage(8, 8, rgb), 4);
        int global = 4 * 3 * 16;
        Assert.Equal(Norm(2), tiles.Pixels[global + 2 * 4 + 1], 1e-7);
        // Output column 0 (taps 0…2, weights 3/7, 3/7, 1/7): 60/7 = 8.57 → 9.
        Assert.Equal(Norm(9), tiles.Pixels[global + 2 * 4 + 0], 1e-7);
    }

    [Fact]
    public void Weights_widen_by_the_scale_when_downscaling()
    {
        var halve = AntialiasedBilinear.ComputeWeights(8, 4);
        Assert.Equal(1, halve.Start[1]);
        Assert.Equal(4, halve.Count[1]);
        Assert.Equal([0.125f, 0.375f, 0.375f, 0.125f], halve.Values.AsSpan(1 * halve.MaxTaps, 4).ToArray());

        // Upscaling: plain bilinear, two taps. Output 1 sits at input coordinate 0.75, a quarter from pixel 0's centre.
        var up = AntialiasedBilinear.ComputeWeights(4, 8);
        Assert.Equal(0, up.Start[1]);
        Assert.Equal([0.75f, 0.25f], up.Values.AsSpan(1 * up.MaxTaps, 2).ToArray());
    }

    [Fact]
    public void Same_input_gives_the_same_tiles_and_hash()
    {
        var image = TestImages.Noisy(700, 900, seed: 5);
        var a = ImagePreprocessor.Preprocess(image, 112);
        var b = ImagePreprocessor.Preprocess(image, 112);
        Assert.Equal(a.ContentHash, b.ContentHash);
    }

    [Fact]
    public void Encoded_overload_decodes_then_preprocesses()
    {
        var image = TestImages.Noisy(40, 70);
        var png = TestImages.Encode(70, 40, TestImages.ToRgba(image), SkiaSharp.SKEncodedImageFormat.Png);
        Assert.Equal(ImagePreprocessor.Preprocess(image, 56).ContentHash, ImagePreprocessor.Preprocess(png, 56, 16, 10_000).ContentHash);
        Assert.Throws<InvalidImageException>(() => ImagePreprocessor.Preprocess(png, 56, 16, 1_000));
    }

    private static float Norm(int v) => (v / 255f - 0.5f) / 0.5f;
}

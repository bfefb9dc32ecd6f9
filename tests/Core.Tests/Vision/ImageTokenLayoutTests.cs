using Llama4Cluster.Core.Tests.Tokenization;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>The image token layout of spec §5.4, and its ids as the tokenizer has them.</summary>
public sealed class ImageTokenLayoutTests(TinyTokenizerFixture fixture) : IClassFixture<TinyTokenizerFixture>
{
    // Distinct stand-ins: start 1, end 2, image 3, patch 9, x separator 4, y separator 5.
    private static readonly ImageTokenSet Ids = new(1, 2, 3, 9, 4, 5);

    [Fact]
    public void OneTileIsStartImagePatchesEnd()
    {
        var tokens = ImageTokenLayout.Tokens(1, 1, 144, Ids);
        Assert.Equal(147, tokens.Length);
        Assert.Equal([1, 3], tokens[..2]);
        Assert.All(tokens[2..146], t => Assert.Equal(9, t));
        Assert.Equal(2, tokens[^1]);
        Assert.Equal(147, ImageTokenLayout.Count(1, 1, 144));
    }

    [Fact]
    public void SeveralTilesAreRowsWithSeparatorsThenTheGlobalTile()
    {
        int[] p = [9, 9]; // two patch tokens per tile
        int[] expected =
        [
            1,
            .. p, 4, .. p, 4, .. p, 5, // row 0: three tiles
            .. p, 4, .. p, 4, .. p, 5, // row 1
            3, .. p,                   // the global tile
            2,
        ];
        Assert.Equal(expected, ImageTokenLayout.Tokens(2, 3, 2, Ids));
        Assert.Equal(expected.Length, ImageTokenLayout.Count(2, 3, 2));
        Assert.Equal(14, ImageTokenLayout.CountPatches(expected, 9)); // (6 + 1) tiles × 2
    }

    [Fact]
    public void TheIdsComeFromTheTokenizer()
    {
        var t = fixture.Tokenizer;
        var ids = ImageTokenSet.FromTokenizer(t);
        Assert.Equal(t.TryGetSpecialTokenId("<|patch|>"), ids.Patch);
        Assert.Equal(t.TryGetSpecialTokenId("<|image|>"), ids.Image);
        Assert.Equal(t.TryGetSpecialTokenId("<|image_start|>"), ids.ImageStart);
        Assert.Equal(t.TryGetSpecialTokenId("<|tile_y_separator|>"), ids.TileYSeparator);
        Assert.Equal(fixture.Info.Patch, ids.Patch);
        Assert.Equal(6, new[] { ids.ImageStart, ids.ImageEnd, ids.Image, ids.Patch, ids.TileXSeparator, ids.TileYSeparator }.Distinct().Count());
    }
}

using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>The image token layout (spec §5.4) and the image ids from a tokenizer.</summary>
public sealed class ImageTokenLayoutTests
{
    // Spec §4.1 ids.
    private static readonly ImageTokenSet Ids = new(ImageStart: 200080, ImageEnd: 200081, Image: 200090, Patch: 200092, TileXSeparator: 200084, TileYSeparator: 200085);

    [Fact]
    public void Single_tile_is_start_image_patches_end()
    {
        var image = new ImageTiles(4, 1, 1, new float[3 * 4 * 4]);
        int t = Llama4VisionConfig.Published.TokensPerTile;
        var tokens = ImageTokenLayout.Tokens(image, t, Ids);
        Assert.Equal(147, tokens.Length);
        Assert.Equal([200080, 200090], tokens[..2]);
        Assert.All(tokens[2..146], id => Assert.Equal(200092, id));
        Assert.Equal(200081, tokens[146]);
        Assert.Equal(144, ImageTokenLayout.PatchTokens(image, t));
        Assert.Equal(144, ImageTokenLayout.CountPatches(tokens, Ids.Patch));
    }

    [Fact]
    public void Two_by_three_canvas_is_laid_out_exactly()
    {
        const int S = 200080, E = 200081, I = 200090, P = 200092, X = 200084, Y = 200085;
        var image = new ImageTiles(2, 2, 3, new float[7 * 3 * 2 * 2]);
        int[] expected =
        [
            S,
            P, P, X, P, P, X, P, P, Y,
            P, P, X, P, P, X, P, P, Y,
            I, P, P,
            E,
        ];
        Assert.Equal(expected, ImageTokenLayout.Tokens(image, 2, Ids));
        Assert.Equal(expected.Length, ImageTokenLayout.TokenCount(2, 3, 2));
        Assert.Equal(14, ImageTokenLayout.PatchTokens(image, 2));
        Assert.Equal(14, ImageTokenLayout.CountPatches(expected, P));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(1, 4)]
    [InlineData(4, 4)]
    [InlineData(3, 1)]
    public void Patch_count_is_tiles_times_tokens(int rows, int columns)
    {
        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        var image = new ImageTiles(2, rows, columns, new float[tiles * 12]);
        var tokens = ImageTokenLayout.Tokens(image, 144, Ids);
        Assert.Equal(ImageTokenLayout.TokenCount(rows, columns, 144), tokens.Length);
        Assert.Equal(ImageTokenLayout.PatchTokens(image, 144), ImageTokenLayout.CountPatches(tokens, Ids.Patch));
    }

    [Fact]
    public void Ids_come_from_the_tokenizer_by_name()
    {
        string dir = Path.Combine(Path.GetTempPath(), "l4c-vision-" + Guid.NewGuid().ToString("N"));
        try
        {
            TinyTokenizerWriter.Write(dir, 300);
            var tokenizer = Llama4Tokenizer.Load(dir);
            var ids = ImageTokenSet.FromTokenizer(tokenizer);
            Assert.Equal(tokenizer.TryGetSpecialTokenId(Llama4SpecialTokens.Patch), ids.Patch);
            Assert.Equal(tokenizer.TryGetSpecialTokenId(Llama4SpecialTokens.ImageStart), ids.ImageStart);
            Assert.Equal(tokenizer.TryGetSpecialTokenId(Llama4SpecialTokens.TileYSeparator), ids.TileYSeparator);
            Assert.Equal(6, new[] { ids.ImageStart, ids.ImageEnd, ids.Image, ids.Patch, ids.TileXSeparator, ids.TileYSeparator }.Distinct().Count());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_tokenizer_without_image_tokens_is_refused_by_name()
    {
        var ranks = new Dictionary<string, int>(StringComparer.Ordinal) { ["a"] = 0 };
        string[] textOnly =
        [
            Llama4SpecialTokens.BeginOfText, Llama4SpecialTokens.EndOfText, Llama4SpecialTokens.HeaderStart,
            Llama4SpecialTokens.HeaderEnd, Llama4SpecialTokens.EndOfMessage, Llama4SpecialTokens.EndOfTurn,
            Llama4SpecialTokens.Patch,
        ];
        var specials = textOnly.Select((name, i) => (name, id: i + 1)).ToDictionary(p => p.name, p => p.id);
        var tokenizer = new Llama4Tokenizer(new BytePairEncoder(ranks), specials, "text-only");
        var e = Assert.Throws<ArgumentException>(() => ImageTokenSet.FromTokenizer(tokenizer));
        Assert.Contains(Llama4SpecialTokens.ImageStart, e.Message, StringComparison.Ordinal);
        Assert.Contains(Llama4SpecialTokens.TileXSeparator, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Llama4SpecialTokens.Patch, e.Message, StringComparison.Ordinal);
    }
}

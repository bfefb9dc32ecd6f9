using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;

namespace Llama4Cluster.Kernels.Tests.Vision;

/// <summary>
/// Images through the engine (spec §5.4): their features replace the <c>&lt;|patch|&gt;</c> embeddings in order during
/// prefill, however the prompt is cut into passes; sequences with and without images share a batch without touching each
/// other; the prefix cache reuses an image's rows only for the same pixels. On tiny-scout with the tiny vision tower, fp32.
/// </summary>
public sealed class VisionEngineTests : IDisposable
{
    private const int Patch = 509, ImageStart = 507, ImageEnd = 508, ImageToken = 500, TileX = 501, TileY = 502;
    private static readonly ImageTokenSet Ids = new(ImageStart, ImageEnd, ImageToken, Patch, TileX, TileY);
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "l4c-vision-engine-" + Guid.NewGuid().ToString("N"));
    private readonly List<LocalEngine> _engines = new();

    public VisionEngineTests() =>
        TinyCheckpointWriter.Write(_dir, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 7, Vision = Llama4VisionConfig.Tiny },
            new ImageTokenIds(ImageStart, ImageEnd, Patch));

    public void Dispose()
    {
        foreach (var e in _engines) e.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private LocalEngine Engine(int maxStepTokens = 512, PrefixCacheOptions? prefix = null)
    {
        var engine = LocalEngine.Load(_dir, new LocalEngineOptions { MaxStepTokens = maxStepTokens, PrefixCache = prefix ?? PrefixCacheOptions.Disabled });
        _engines.Add(engine);
        return engine;
    }

    /// <summary>An image of rows × columns tiny tiles (56 pixels) with pixels drawn from <paramref name="seed"/>.</summary>
    private static ImageTiles Image(int rows, int columns, int seed)
    {
        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        var rng = new Random(seed);
        return new ImageTiles(56, rows, columns, Enumerable.Range(0, tiles * 3 * 56 * 56).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray());
    }

    private static int[] Text(int count, int seed) => [.. Enumerable.Range(0, count).Select(i => 3 + (i * 37 + seed * 101) % 490)];

    /// <summary>Text, a one-tile image, text, a 2×2 image (5 tiles), text.</summary>
    private static (int[] Tokens, ImageTiles[] Images) Prompt(int seedA, int seedB)
    {
        ImageTiles a = Image(1, 1, seedA), b = Image(2, 2, seedB);
        int[] tokens = [1, .. Text(5, 1), .. ImageTokenLayout.Tokens(a, 4, Ids), .. Text(3, 2), .. ImageTokenLayout.Tokens(b, 4, Ids), .. Text(4, 3)];
        return (tokens, [a, b]);
    }

    private static double MaxDiff(float[][] x, float[][] y) =>
        x.Zip(y).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));

    [Fact]
    public void TheEngineTakesTheVisionTowerAndItsInputsFromTheCheckpoint()
    {
        var engine = Engine();
        Assert.NotNull(engine.Vision);
        Assert.Equal(new VisionInputs(Patch, 4, 56), engine.Vision!.Inputs);
        Assert.Equal(engine.Vision.Inputs, engine.Limits.Vision);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(7)]
    public void PrefillCutIntoPassesGivesTheLogitsOfOnePass(int maxStepTokens)
    {
        var (tokens, images) = Prompt(1, 2);
        var whole = Engine().Logits(tokens, images);
        var chunked = Engine(maxStepTokens).Logits(tokens, images);
        Assert.True(MaxDiff(whole, chunked) < 1e-5, $"max diff {MaxDiff(whole, chunked):E3}");
    }

    [Fact]
    public void AnImageChangesTheLogitsFromItsFirstPatchOnOnly()
    {
        var engine = Engine();
        var (tokens, images) = Prompt(1, 2);
        var (_, other) = Prompt(1, 3); // the second image differs
        var x = engine.Logits(tokens, images);
        var y = engine.Logits(tokens, other);
        int firstPatchOfB = Array.IndexOf(tokens, Patch, Array.IndexOf(tokens, ImageEnd));
        // Before it, the same computation (up to the expert GEMMs' row grouping, which the other rows' routing changes).
        Assert.True(MaxDiff(x[..firstPatchOfB], y[..firstPatchOfB]) < 1e-5, $"max diff before the image {MaxDiff(x[..firstPatchOfB], y[..firstPatchOfB]):E3}");
        Assert.True(MaxDiff(x[firstPatchOfB..], y[firstPatchOfB..]) > 1e-3, "the second image's pixels did not reach the logits");
    }

    [Fact]
    public void ImagesMustFillThePatchPositionsExactly()
    {
        var engine = Engine();
        var (tokens, images) = Prompt(1, 2);
        var e = Assert.Throws<ArgumentException>(() => engine.Logits(tokens, images[..1]));
        Assert.Contains("image patch tokens", e.Message);
        Assert.Throws<ArgumentException>(() => engine.Logits(tokens));
    }

    [Fact]
    public async Task GenerationWithImagesFollowsTheLogitsAndLeavesOtherSequencesAlone()
    {
        var engine = Engine(maxStepTokens: 16);
        var (tokens, images) = Prompt(4, 5);
        var logits = engine.Logits(tokens, images);
        int argmax = Array.IndexOf(logits[^1], logits[^1].Max());
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 6 };
        var text = new GenerationRequest(Text(9, 4), greedy);
        var image = new GenerationRequest(tokens, greedy, Images: images);
        var alone = await engine.GenerateAsync([image]);
        var textAlone = await engine.GenerateAsync([text]);
        var batched = await engine.GenerateAsync([text, image, image with { Images = Prompt(4, 6).Images }]);
        Assert.Equal(argmax, alone[0].Tokens[0]);
        Assert.Equal(alone[0].Tokens, batched[1].Tokens);
        Assert.Equal(textAlone[0].Tokens, batched[0].Tokens);
    }

    [Fact]
    public async Task ThePrefixCacheReusesAnImagesRowsOnlyForTheSamePixels()
    {
        var engine = Engine(prefix: new PrefixCacheOptions { BlockSize = 4 });
        var (tokens, images) = Prompt(8, 9);
        var (_, otherB) = Prompt(8, 10);
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 1, TopLogprobs = 3 };
        var core = () => engine.Core!;
        await engine.GenerateAsync([new GenerationRequest(tokens, greedy, Images: images)]);
        long restored0 = core().PrefixCache!.RestoredTokens;
        var same = await engine.GenerateAsync([new GenerationRequest(tokens, greedy, Images: images)]);
        long restoredSame = core().PrefixCache!.RestoredTokens - restored0;
        var other = await engine.GenerateAsync([new GenerationRequest(tokens, greedy, Images: otherB)]);
        long restoredOther = core().PrefixCache!.RestoredTokens - restored0 - restoredSame;

        int firstPatchOfB = Array.IndexOf(tokens, Patch, Array.IndexOf(tokens, ImageEnd));
        Assert.Equal((tokens.Length - 1) / 4 * 4, restoredSame); // every whole block of the prompt (its last token is computed)
        Assert.Equal(firstPatchOfB / 4 * 4, restoredOther); // only the blocks before the image that differs
        var fresh = await Engine().GenerateAsync([new GenerationRequest(tokens, greedy, Images: otherB)]);
        Assert.Equal(fresh[0].Tokens, other[0].Tokens);
        Assert.Equal(fresh[0].Details[0].Logprob!.Value, other[0].Details[0].Logprob!.Value, 1e-5f);
    }

    [Fact]
    public async Task AStagedRankEmbedsImagesOnItsFirstStage()
    {
        var (tokens, images) = Prompt(11, 12);
        var expected = Engine().Logits(tokens, images);
        var staged = LocalEngine.Load(_dir, new LocalEngineOptions { Stages = 2, PrefixCache = PrefixCacheOptions.Disabled });
        _engines.Add(staged);
        Assert.True(MaxDiff(expected, staged.Logits(tokens, images)) < 1e-5);
        var greedy = new SamplingParams { Temperature = 0, MaxTokens = 4 };
        var one = await Engine().GenerateAsync([new GenerationRequest(tokens, greedy, Images: images)]);
        var two = await staged.GenerateAsync([new GenerationRequest(tokens, greedy, Images: images)]);
        Assert.Equal(one[0].Tokens, two[0].Tokens);
    }
}

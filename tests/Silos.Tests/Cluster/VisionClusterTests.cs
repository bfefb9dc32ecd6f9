using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// Prompts with images through the cluster (spec §5.4): the attention rank's vision tower encodes the images that travel
/// with the sequence's start, so the cluster's fp32 logits equal <c>LocalEngine</c>'s (≤ 1e-5) and greedy generation is
/// the same — with prefills split into many passes (tiny message budget), and with ranks split into pipeline stages (the
/// first stage encodes; the later ones never receive the pixels).
/// </summary>
public abstract class VisionClusterTests<TFixture>(TFixture fixture) where TFixture : TinyClusterFixture
{
    private static readonly ImageTokenSet Ids = new(507, 508, 500, 509, 501, 502);

    private static ImageTiles Image(int rows, int columns, int seed)
    {
        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        var rng = new Random(seed);
        return new ImageTiles(56, rows, columns, [.. Enumerable.Range(0, tiles * 3 * 56 * 56).Select(_ => (float)(rng.NextDouble() * 2 - 1))]);
    }

    private static (int[] Tokens, ImageTiles[] Images) Prompt(int seed)
    {
        ImageTiles a = Image(1, 1, seed), b = Image(2, 2, seed + 1);
        int[] tokens = [1, 33, 34, 35, .. ImageTokenLayout.Tokens(a, 4, Ids), 36, 37, .. ImageTokenLayout.Tokens(b, 4, Ids), 38, 39];
        return (tokens, [a, b]);
    }

    [Fact]
    public void TheClusterTakesTheCheckpointsImageInputs()
    {
        Assert.Equal(new VisionInputs(509, 4, 56), fixture.Engine.Vision);
        Assert.Equal(fixture.Engine.Vision, fixture.Local.Vision!.Inputs);
    }

    [Fact]
    public async Task LogitsOfAPromptWithImagesMatchTheLocalEngine()
    {
        var (tokens, images) = Prompt(seed: 3);
        var expected = fixture.Local.Logits(tokens, images);
        var actual = await fixture.Engine.LogitsAsync(tokens, images);
        Assert.Equal(expected.Length, actual.Length);
        double max = 0;
        for (int t = 0; t < expected.Length; t++)
            for (int v = 0; v < expected[t].Length; v++) max = Math.Max(max, Math.Abs(expected[t][v] - actual[t][v]));
        Assert.True(max < 1e-5, $"max |logit diff| {max:E3}");
    }

    [Fact]
    public async Task GreedyGenerationWithImagesMatchesTheLocalEngine()
    {
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 6, TopLogprobs = 2 };
        var (a, imagesA) = Prompt(seed: 10);
        var (b, imagesB) = Prompt(seed: 20);
        GenerationRequest[] requests =
        [
            new(a, sampling, Images: imagesA),
            new([1, 40, 41, 42, 43], sampling),
            new(b, sampling, Images: imagesB),
        ];
        var expected = await fixture.Local.GenerateAsync(requests);
        var actual = await fixture.Engine.GenerateAsync(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(expected[i].Tokens, actual[i].Tokens);
            for (int t = 0; t < expected[i].Details.Count; t++)
                Assert.Equal(expected[i].Details[t].Logprob!.Value, actual[i].Details[t].Logprob!.Value, 1e-4);
        }
    }

    [Fact]
    public async Task AMismatchBetweenImagesAndPatchTokensIsRefusedBeforeItReachesARank()
    {
        var (tokens, images) = Prompt(seed: 5);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => fixture.Engine.LogitsAsync(tokens, images[..1]));
        Assert.Contains("24 image patch tokens", e.Message); // both counts named
        Assert.Contains("1 tile(s) × 4 = 4 patch features", e.Message);
    }
}

[Collection(TinyScoutCluster.Name)]
public sealed class TinyScoutVisionClusterTests(TinyScoutClusterFixture fixture) : VisionClusterTests<TinyScoutClusterFixture>(fixture);

[Collection(TinyBehemothStagedCluster.Name)]
public sealed class TinyBehemothStagedVisionClusterTests(TinyBehemothStagedClusterFixture fixture) : VisionClusterTests<TinyBehemothStagedClusterFixture>(fixture);

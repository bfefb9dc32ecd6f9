using Llama4Cluster.Core.Sampling;

using static Llama4Cluster.Core.Tests.Sampling.SamplingReference;

namespace Llama4Cluster.Core.Tests.Sampling;

/// <summary>Top-k, top-p and min-p keep exactly the hand-computed sets, renormalized.</summary>
public sealed class SamplerFilterTests
{
    [Theory]
    [InlineData(1, new[] { 1 })]
    [InlineData(2, new[] { 1, 3 })]
    [InlineData(3, new[] { 1, 2, 3 })]
    [InlineData(5, new[] { 0, 1, 2, 3, 4 })]
    [InlineData(9, new[] { 0, 1, 2, 3, 4 })]  // k >= V keeps everything
    [InlineData(0, new[] { 0, 1, 2, 3, 4 })]  // disabled
    [InlineData(-1, new[] { 0, 1, 2, 3, 4 })] // disabled
    public void TopKKeepsTheKHighestLogits(int k, int[] expected)
    {
        float[] logits = [1f, 5f, 3f, 4.5f, 2f];

        var probabilities = Distribution(new SamplingParams { Temperature = 1f, TopK = k }, logits);

        Assert.Equal(expected, Support(probabilities));
        AssertRenormalizedSoftmax(logits, probabilities, 1f);
    }

    [Fact]
    public void TopKKeepsTiesWithTheKthLogit()
    {
        // vLLM masks logits < kth value, so both 3s survive k = 2.
        float[] logits = [1f, 5f, 3f, 3f, 2f];

        var probabilities = Distribution(new SamplingParams { Temperature = 1f, TopK = 2 }, logits);

        Assert.Equal([1, 2, 3], Support(probabilities));
    }

    [Theory]
    [InlineData(0.35f, new[] { 1 })]          // 0.4 >= 0.35
    [InlineData(0.65f, new[] { 1, 3 })]       // 0.4 + 0.3 = 0.7 >= 0.65
    [InlineData(0.75f, new[] { 1, 2, 3 })]    // 0.9 >= 0.75
    [InlineData(0.95f, new[] { 0, 1, 2, 3 })]
    [InlineData(1.0f, new[] { 0, 1, 2, 3 })]
    [InlineData(1e-6f, new[] { 1 })]          // always at least one token
    public void TopPKeepsTheSmallestSetReachingP(float topP, int[] expected)
    {
        var logits = LogitsFor(0.1, 0.4, 0.2, 0.3);

        var probabilities = Distribution(new SamplingParams { Temperature = 1f, TopP = topP }, logits);

        Assert.Equal(expected, Support(probabilities));
        AssertRenormalizedSoftmax(logits, probabilities, 1f);
    }

    [Fact]
    public void TopPBreaksProbabilityTiesByLowerId()
    {
        // Probabilities 0.3, 0.3, 0.4 (ids 0 and 1 have bit-identical logits): 0.4 + 0.3 reaches 0.5 with id 0.
        var logits = LogitsFor(0.3, 0.3, 0.4);

        var probabilities = Distribution(new SamplingParams { Temperature = 1f, TopP = 0.5f }, logits);

        Assert.Equal([0, 2], Support(probabilities));
    }

    [Fact]
    public void TopPIsAppliedAfterTemperature()
    {
        // At T = 1: 0.4, 0.3, 0.2, 0.1 and top_p 0.65 keeps two. At T = 0.25 the top token alone has
        // 0.4^4 / (0.4^4 + 0.3^4 + 0.2^4 + 0.1^4) = 0.72 of the mass.
        var logits = LogitsFor(0.4, 0.3, 0.2, 0.1);

        Assert.Equal([0, 1], Support(Distribution(new SamplingParams { Temperature = 1f, TopP = 0.65f }, logits)));
        Assert.Equal([0], Support(Distribution(new SamplingParams { Temperature = 0.25f, TopP = 0.65f }, logits)));
    }

    [Theory]
    [InlineData(0.3f, new[] { 0, 1, 3 })]     // threshold 0.15: drops 0.05
    [InlineData(0.45f, new[] { 0, 3 })]       // threshold 0.225: drops 0.2 and 0.05
    [InlineData(0.09f, new[] { 0, 1, 2, 3 })] // threshold 0.045: keeps all
    [InlineData(1f, new[] { 0 })]             // only the maximum
    public void MinPDropsTokensBelowMinPTimesTheMaximum(float minP, int[] expected)
    {
        var logits = LogitsFor(0.5, 0.2, 0.05, 0.25);

        var probabilities = Distribution(new SamplingParams { Temperature = 1f, MinP = minP }, logits);

        Assert.Equal(expected, Support(probabilities));
        AssertRenormalizedSoftmax(logits, probabilities, 1f);
    }

    [Fact]
    public void FiltersApplyInOrderTopKThenTopPThenMinP()
    {
        var logits = LogitsFor(0.4, 0.3, 0.2, 0.1);

        // Top-p alone at 0.75: 0.4 + 0.3 = 0.7 < 0.75, so three tokens.
        Assert.Equal([0, 1, 2], Support(Distribution(new SamplingParams { Temperature = 1f, TopP = 0.75f }, logits)));

        // Top-k 3 first renormalizes to 0.444, 0.333, 0.222: 0.778 >= 0.75 keeps two.
        var topKTopP = new SamplingParams { Temperature = 1f, TopK = 3, TopP = 0.75f };
        Assert.Equal([0, 1], Support(Distribution(topKTopP, logits)));

        // Then min-p 0.8: 0.3 / 0.4 = 0.75 < 0.8 drops id 1.
        Assert.Equal([0], Support(Distribution(topKTopP with { MinP = 0.8f }, logits)));
    }

    [Fact]
    public void DrawsNeverLeaveTheKeptSet()
    {
        var logits = LogitsFor(0.1, 0.4, 0.2, 0.3, 0.05, 0.15);
        var sampler = new Sampler(new SamplingParams { Temperature = 1.5f, TopK = 4, TopP = 0.8f, Seed = 3 }, []);
        var probabilities = new float[logits.Length];
        sampler.ComputeProbabilities(logits, NoTokens, NoTokens, probabilities);
        var kept = Support(probabilities);
        var seen = new HashSet<int>();

        for (var i = 0; i < 5_000; i++)
        {
            seen.Add(sampler.Sample(logits, NoTokens, NoTokens).TokenId);
        }

        Assert.Equal(kept, seen.Order().ToArray());
    }

    /// <summary>The kept tokens' probabilities are softmax(logits / T) renormalized over the kept set.</summary>
    private static void AssertRenormalizedSoftmax(float[] logits, float[] probabilities, float temperature)
    {
        var softmax = Softmax(logits, temperature);
        var keptMass = 0.0;
        for (var i = 0; i < logits.Length; i++)
        {
            if (probabilities[i] > 0f)
            {
                keptMass += softmax[i];
            }
        }

        for (var i = 0; i < logits.Length; i++)
        {
            var expected = probabilities[i] > 0f ? softmax[i] / keptMass : 0.0;
            Assert.Equal(expected, probabilities[i], 1e-6);
        }
    }
}

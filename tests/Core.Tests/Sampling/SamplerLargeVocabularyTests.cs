using System.Diagnostics;
using Llama4Cluster.Core.Sampling;
using Xunit.Abstractions;

using static Llama4Cluster.Core.Tests.Sampling.SamplingReference;

namespace Llama4Cluster.Core.Tests.Sampling;

/// <summary>Llama 4's 202,048-token vocabulary: correctness against full-sort references, allocation and errors.</summary>
[Collection(nameof(AllocationMeasurementCollection))]
public sealed class SamplerLargeVocabularyTests(ITestOutputHelper output)
{
    private const int VocabularySize = 202_048;

    private static readonly float[] Logits = RandomLogits(VocabularySize, seed: 2024);
    private static readonly int[] Prompt = [.. Enumerable.Range(0, 4_000).Select(i => (i * 7919) % VocabularySize)];
    private static readonly int[] Generated = [.. Enumerable.Range(0, 300).Select(i => (i * 104_729) % VocabularySize)];

    public static TheoryData<string> Configurations => ["greedy", "greedy+penalties", "temperature", "top-p", "everything"];

    [Theory]
    [MemberData(nameof(Configurations))]
    public void CallsAfterWarmUpAllocateOnlyTheResult(string configuration)
    {
        var sampler = new Sampler(Parameters(configuration), []);
        // Warm up past tiered compilation (tier-0 Vector256 code is slow, and re-JIT can allocate on this thread).
        for (var i = 0; i < 40; i++)
        {
            sampler.Sample(Logits, Prompt, Generated);
        }

        // Background tiered re-JIT can allocate on this thread while other tests load the machine:
        // the least of several rounds is the sampler's own steady-state allocation.
        const int calls = 20;
        long allocated = long.MaxValue;
        var stopwatch = Stopwatch.StartNew();
        for (var round = 0; round < 5 && allocated / calls >= 256; round++)
        {
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < calls; i++)
            {
                sampler.Sample(Logits, Prompt, Generated);
            }

            allocated = Math.Min(allocated, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        stopwatch.Stop();
        output.WriteLine($"{configuration}: {allocated / calls} B/call");

        // A SampledToken (~40 B) plus at most a TokenLogprob[5] (~64 B); one vocabulary-sized buffer would be 800 KB.
        Assert.True(allocated / calls < 256, $"{allocated / calls} bytes per call");
    }

    [Theory]
    [InlineData(0.7f, 0.9f)]
    [InlineData(1.0f, 0.5f)]
    [InlineData(2.0f, 0.99f)]
    public void TopPMatchesAFullSortReference(float temperature, float topP)
    {
        var probabilities = Distribution(new SamplingParams { Temperature = temperature, TopP = topP }, Logits);

        // Reference: the same fp32 softmax numerators (same exp), fully sorted (probability descending, id ascending).
        var scaled = Logits.Select(x => x / temperature).ToArray();
        var max = scaled.Max();
        var weights = (float[])scaled.Clone();
        VectorMath.ExpShifted(weights, max);
        var total = weights.Sum(w => (double)w);
        var order = Enumerable.Range(0, VocabularySize).OrderByDescending(i => weights[i]).ThenBy(i => i).ToArray();
        var kept = new List<int>();
        var cumulative = 0.0;
        foreach (var id in order)
        {
            kept.Add(id);
            cumulative += weights[id];
            if (cumulative >= topP * total)
            {
                break;
            }
        }

        var support = Support(probabilities);
        output.WriteLine($"T={temperature} top_p={topP}: {support.Length} tokens kept");
        Assert.Equal(kept.Order().ToArray(), support);
        Assert.Equal(1.0, probabilities.Sum(p => (double)p), 1e-4);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(50)]
    [InlineData(4_096)]
    public void TopKMatchesAFullSortReference(int k)
    {
        var probabilities = Distribution(new SamplingParams { Temperature = 0.9f, TopK = k }, Logits);

        var expected = Enumerable.Range(0, VocabularySize).OrderByDescending(i => Logits[i] / 0.9f).ThenBy(i => i).Take(k).Order();
        Assert.Equal(expected.ToArray(), Support(probabilities));
    }

    [Fact]
    public void GreedyMatchesArgmax()
    {
        var expected = Array.IndexOf(Logits, Logits.Max());

        Assert.Equal(expected, new Sampler(new SamplingParams(), []).Sample(Logits, Prompt, Generated).TokenId);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    public void NonFiniteLogitsThrowNamingTheIndex(float bad)
    {
        var logits = (float[])Logits.Clone();
        logits[123_456] = bad;
        var sampler = new Sampler(new SamplingParams { Temperature = 1f }, []);

        var error = Assert.Throws<ArgumentException>(() => sampler.Sample(logits, Prompt, Generated));

        Assert.Equal("logits", error.ParamName);
        Assert.Contains("logits[123456]", error.Message, StringComparison.Ordinal);
        Assert.Contains("finite", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EmptyLogitsThrow()
    {
        var sampler = new Sampler(new SamplingParams(), []);

        Assert.Throws<ArgumentException>(() => sampler.Sample([], NoTokens, NoTokens));
    }

    [Fact]
    public void OutOfRangeHistoryTokenThrowsWhenAPenaltyReadsIt()
    {
        var sampler = new Sampler(new SamplingParams { RepetitionPenalty = 1.1f }, []);

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => sampler.Sample(Logits, [VocabularySize], NoTokens));

        Assert.Equal("promptTokens", error.ParamName);
    }

    private static SamplingParams Parameters(string configuration) => configuration switch
    {
        "greedy" => new SamplingParams(),
        "greedy+penalties" => new SamplingParams { RepetitionPenalty = 1.1f, PresencePenalty = 0.2f, FrequencyPenalty = 0.1f },
        "temperature" => new SamplingParams { Temperature = 0.8f, Seed = 1 },
        "top-p" => new SamplingParams { Temperature = 1f, TopP = 0.9f, Seed = 1 },
        "everything" => new SamplingParams
        {
            Temperature = 0.8f, TopK = 50, TopP = 0.9f, MinP = 0.05f, RepetitionPenalty = 1.1f,
            PresencePenalty = 0.2f, FrequencyPenalty = 0.1f, TopLogprobs = 5, Seed = 1,
        },
        _ => throw new ArgumentOutOfRangeException(nameof(configuration), configuration, "Unknown configuration."),
    };
}

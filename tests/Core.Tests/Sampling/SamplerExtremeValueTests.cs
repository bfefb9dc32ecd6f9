using Llama4Cluster.Core.Sampling;

using static Llama4Cluster.Core.Tests.Sampling.SamplingReference;

namespace Llama4Cluster.Core.Tests.Sampling;

/// <summary>
/// Parameters at the extremes of their ranges (and finite logits at the extremes of fp32) never make sampling throw:
/// penalized or temperature-scaled logits that overflow fp32 saturate at ±<see cref="float.MaxValue"/>, and the draw is a
/// valid token from a normalized distribution. (A repetition penalty of 1e30 once overflowed to -Infinity inside a batched
/// step, and the sampler's exception failed every sequence of that step.)
/// </summary>
public sealed class SamplerExtremeValueTests
{
    /// <summary>Every token is in the prompt and most were generated, so every penalty touches every logit.</summary>
    private static readonly float[] Logits = [1e30f, -1e30f, 50f, -50f, 0f, float.MaxValue, -float.MaxValue, 3e-39f];
    private static readonly int[] Prompt = [0, 1, 2, 3, 4, 5, 6, 7];
    private static readonly int[] Generated = [.. Enumerable.Repeat(3, 100_000), 0, 1, 2, 5, 6];

    public static TheoryData<float, float, float, float> ExtremeCases()
    {
        var data = new TheoryData<float, float, float, float>();
        float[] repetitions = [float.Epsilon, 1e-38f, 1e-30f, 1e-3f, 1f, 1e3f, 1e30f, float.MaxValue];
        float[] temperatures = [0f, SamplingParams.GreedyTemperatureThreshold, 1f, 1e30f, float.MaxValue];
        foreach (var repetition in repetitions)
        {
            foreach (var temperature in temperatures)
            {
                data.Add(repetition, temperature, 2f, -2f);
                data.Add(repetition, temperature, -2f, 2f);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ExtremeCases))]
    public void InRangeParametersAlwaysSampleAValidToken(float repetition, float temperature, float presence, float frequency)
    {
        var parameters = new SamplingParams
        {
            RepetitionPenalty = repetition, Temperature = temperature, PresencePenalty = presence,
            FrequencyPenalty = frequency, TopK = 3, TopP = 0.9f, MinP = 0.1f, Seed = 7, TopLogprobs = 2,
        };
        var sampler = new Sampler(parameters, []);

        for (var i = 0; i < 10; i++)
        {
            var token = sampler.Sample(Logits, Prompt, Generated);
            Assert.InRange(token.TokenId, 0, Logits.Length - 1);
            Assert.False(float.IsNaN(token.Logprob!.Value), "logprob is NaN");
        }

        var probabilities = new float[Logits.Length];
        sampler.ComputeProbabilities(Logits, Prompt, Generated, probabilities);
        Assert.All(probabilities, p => Assert.True(p is >= 0f and <= 1f, $"probability {p}"));
        Assert.Equal(1.0, probabilities.Sum(p => (double)p), 1e-6);
    }

    [Theory]
    [InlineData(1e-30f)]
    [InlineData(1e-38f)]
    [InlineData(float.Epsilon)]
    public void TinyRepetitionPenaltyMakesASeenPositiveLogitWinWithoutOverflow(float repetition)
    {
        // 10 / 1e-30 = 1e31; 10 / 1.4e-45 overflows fp32 and saturates at float.MaxValue. Either way token 0 wins.
        float[] logits = [10f, 20f, -5f];
        foreach (var temperature in new[] { 0f, 1e-5f, 1f })
        {
            var parameters = new SamplingParams { RepetitionPenalty = repetition, Temperature = temperature, Seed = 3 };
            Assert.Equal([1f, 0f, 0f], Distribution(parameters, logits, prompt: [0]));
            Assert.Equal(0, new Sampler(parameters, []).Sample(logits, [0], NoTokens).TokenId);
        }
    }

    [Theory]
    [InlineData(1e30f)]
    [InlineData(float.MaxValue)]
    public void HugeRepetitionPenaltyNeverPicksASeenNegativeLogit(float repetition)
    {
        // -1e10 * 1e30 overflows fp32 to -Infinity without the clamp; a seen positive logit becomes about 0.
        float[] logits = [-1e10f, -1e12f, 1e-3f];
        foreach (var temperature in new[] { 0f, 1e-5f, 1f, 100f })
        {
            var parameters = new SamplingParams { RepetitionPenalty = repetition, Temperature = temperature, Seed = 11 };
            var probabilities = Distribution(parameters, logits, prompt: [0, 2], generated: [2]);
            Assert.Equal(0f, probabilities[0]);
            Assert.Equal(1.0, probabilities.Sum(p => (double)p), 1e-6);
            var sampler = new Sampler(parameters, []);
            for (var i = 0; i < 20; i++)
            {
                Assert.NotEqual(0, sampler.Sample(logits, [0, 2], [2]).TokenId);
            }
        }
    }

    [Fact]
    public void PenaltiesThatSaturateTieAndTheDrawStaysUniformOverTheTie()
    {
        // Both seen positive logits saturate at float.MaxValue: greedy takes the lowest id, sampling splits evenly.
        float[] logits = [10f, 20f, 30f];
        var greedy = new SamplingParams { RepetitionPenalty = float.Epsilon };
        Assert.Equal([1f, 0f, 0f], Distribution(greedy, logits, prompt: [0, 1]));

        var probabilities = Distribution(greedy with { Temperature = 1f }, logits, prompt: [0, 1]);
        Assert.Equal(0.5, probabilities[0], 1e-6);
        Assert.Equal(0.5, probabilities[1], 1e-6);
        Assert.Equal(0f, probabilities[2]);
    }

    [Fact]
    public void TemperatureDivisionThatOverflowsIsClamped()
    {
        // No penalty: finite logits near fp32's limits divided by the smallest sampling temperature overflow.
        float[] logits = [-float.MaxValue, 1e33f, float.MaxValue, 2e38f, 0f];
        var parameters = new SamplingParams { Temperature = SamplingParams.GreedyTemperatureThreshold, Seed = 5 };

        var probabilities = Distribution(parameters, logits);

        // 2e38 and float.MaxValue both saturate: they tie; 1e33 / 1e-5 = 1e38 stays finite, far below them, with no mass.
        Assert.Equal([0f, 0f, 0.5f, 0.5f, 0f], probabilities);
        var sampler = new Sampler(parameters, []);
        for (var i = 0; i < 20; i++)
        {
            Assert.Contains(sampler.Sample(logits, NoTokens, NoTokens).TokenId, new[] { 2, 3 });
        }
    }

    [Fact]
    public void PenalizedLogitsAreClampedToFiniteValues()
    {
        float[] logits = [100f, -100f, -1e10f, 1e-3f];
        int[] prompt = [0, 1, 2, 3];

        var tiny = Penalize(logits, prompt, new SamplingParams { RepetitionPenalty = float.Epsilon });
        Assert.Equal([float.MaxValue, -100f * float.Epsilon, -1e10f * float.Epsilon, float.MaxValue], tiny);

        var huge = Penalize(logits, prompt, new SamplingParams { RepetitionPenalty = 1e30f });
        Assert.Equal([100f / 1e30f, -100f * 1e30f, -float.MaxValue, 1e-3f / 1e30f], huge);

        // Frequency and presence at the ends of [-2, 2] on a token generated 100,000 times at fp32's limits.
        float[] edges = [float.MaxValue, -float.MaxValue];
        int[] generated = [.. Enumerable.Repeat(0, 100_000), .. Enumerable.Repeat(1, 100_000)];
        var rewarded = Penalize(edges, [], new SamplingParams { FrequencyPenalty = -2f, PresencePenalty = -2f }, generated);
        var punished = Penalize(edges, [], new SamplingParams { FrequencyPenalty = 2f, PresencePenalty = 2f }, generated);
        Assert.All(rewarded.Concat(punished), x => Assert.True(float.IsFinite(x), $"logit {x}"));
    }

    private static float[] Penalize(float[] logits, int[] prompt, SamplingParams parameters, int[]? generated = null)
    {
        var result = (float[])logits.Clone();
        LogitPenalties.Apply(result, prompt, generated ?? NoTokens, parameters, new int[logits.Length], new byte[logits.Length]);
        return result;
    }
}

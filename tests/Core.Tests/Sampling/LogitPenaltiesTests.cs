using Llama4Cluster.Core.Sampling;

using static Llama4Cluster.Core.Tests.Sampling.SamplingReference;

namespace Llama4Cluster.Core.Tests.Sampling;

/// <summary>
/// Hand-computed cases. Logits [2, -1, 0.5, 3, -2]; prompt [0, 1]; generated [3, 3, 1, 4]. Token 0 is in the prompt
/// only, token 1 in both, token 2 nowhere, token 3 generated twice, token 4 generated once.
/// </summary>
public sealed class LogitPenaltiesTests
{
    private static readonly float[] Logits = [2f, -1f, 0.5f, 3f, -2f];
    private static readonly int[] Prompt = [0, 1];
    private static readonly int[] Generated = [3, 3, 1, 4];

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfPromptAndGeneratedTokens()
    {
        // 2 / 2, -1 * 2, untouched, 3 / 2, -2 * 2 (once each, however often the token occurs).
        Assert.Equal([1f, -2f, 0.5f, 1.5f, -4f], Apply(new SamplingParams { RepetitionPenalty = 2f }));
    }

    [Fact]
    public void RepetitionPenaltyBelowOneRewardsRepeats()
    {
        Assert.Equal([4f, -0.5f, 0.5f, 6f, -1f], Apply(new SamplingParams { RepetitionPenalty = 0.5f }));
    }

    [Fact]
    public void FrequencyPenaltySubtractsPerGeneratedOccurrenceAndIgnoresThePrompt()
    {
        // Token 0 (prompt only) untouched; 1: -1 - 0.5; 3: 3 - 2 * 0.5; 4: -2 - 0.5.
        Assert.Equal([2f, -1.5f, 0.5f, 2f, -2.5f], Apply(new SamplingParams { FrequencyPenalty = 0.5f }));
    }

    [Fact]
    public void PresencePenaltySubtractsOnceForGeneratedTokensAndIgnoresThePrompt()
    {
        Assert.Equal([2f, -1.25f, 0.5f, 2.75f, -2.25f], Apply(new SamplingParams { PresencePenalty = 0.25f }));
    }

    [Fact]
    public void PenaltiesCombineRepetitionFirstThenFrequencyThenPresence()
    {
        // 0: 2/2; 1: -1*2 - 0.5 - 0.25; 3: 3/2 - 2*0.5 - 0.25; 4: -2*2 - 0.5 - 0.25.
        var parameters = new SamplingParams { RepetitionPenalty = 2f, FrequencyPenalty = 0.5f, PresencePenalty = 0.25f };

        Assert.Equal([1f, -2.75f, 0.5f, 0.25f, -4.75f], Apply(parameters));
    }

    [Fact]
    public void ScratchIsLeftZeroed()
    {
        var counts = new int[Logits.Length];
        var seen = new byte[Logits.Length];
        var parameters = new SamplingParams { RepetitionPenalty = 1.3f, FrequencyPenalty = 0.1f, PresencePenalty = 0.1f };

        LogitPenalties.Apply((float[])Logits.Clone(), Prompt, Generated, parameters, counts, seen);

        Assert.All(counts, c => Assert.Equal(0, c));
        Assert.All(seen, s => Assert.Equal(0, s));
    }

    [Fact]
    public void OutOfRangeTokenThrowsAndLeavesScratchClean()
    {
        var counts = new int[Logits.Length];
        var seen = new byte[Logits.Length];
        var parameters = new SamplingParams { RepetitionPenalty = 1.3f };

        var error = Assert.Throws<ArgumentOutOfRangeException>(
            () => LogitPenalties.Apply((float[])Logits.Clone(), Prompt, [3, 5], parameters, counts, seen));

        Assert.Equal("generatedTokens", error.ParamName);
        Assert.Contains("generatedTokens[1] = 5", error.Message, StringComparison.Ordinal);
        Assert.All(counts, c => Assert.Equal(0, c));
        Assert.All(seen, s => Assert.Equal(0, s));
    }

    [Fact]
    public void SamplerAppliesPenaltiesBeforeTemperature()
    {
        // At T = 2 the distribution is softmax(penalized / 2): compare against the hand-computed penalized logits.
        var parameters = new SamplingParams
        {
            Temperature = 2f, RepetitionPenalty = 2f, FrequencyPenalty = 0.5f, PresencePenalty = 0.25f,
        };

        var probabilities = Distribution(parameters, Logits, Prompt, Generated);

        var expected = Softmax([1f, -2.75f, 0.5f, 0.25f, -4.75f], 2.0);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], probabilities[i], 1e-6);
        }
    }

    [Fact]
    public void SamplerRepeatedCallsGiveTheSamePenalties()
    {
        // The sampler's reused scratch must not leak counts from one call into the next.
        var sampler = new Sampler(new SamplingParams { Temperature = 1f, FrequencyPenalty = 1f, RepetitionPenalty = 1.5f }, []);
        var first = new float[Logits.Length];
        var second = new float[Logits.Length];

        sampler.ComputeProbabilities(Logits, Prompt, Generated, first);
        sampler.ComputeProbabilities(Logits, Prompt, Generated, second);

        Assert.Equal(first, second);
    }

    private static float[] Apply(SamplingParams parameters)
    {
        var logits = (float[])Logits.Clone();
        LogitPenalties.Apply(logits, Prompt, Generated, parameters, new int[logits.Length], new byte[logits.Length]);
        return logits;
    }
}

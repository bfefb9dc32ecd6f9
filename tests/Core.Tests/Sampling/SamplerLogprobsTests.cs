using Llama4Cluster.Core.Sampling;

using static Llama4Cluster.Core.Tests.Sampling.SamplingReference;

namespace Llama4Cluster.Core.Tests.Sampling;

public sealed class SamplerLogprobsTests
{
    private static readonly IEqualityComparer<TokenLogprob> LogprobComparer =
        EqualityComparer<TokenLogprob>.Create((a, b) => a.TokenId == b.TokenId && Math.Abs(a.Logprob - b.Logprob) < 1e-6f);

    [Fact]
    public void NoLogprobsWhenNotRequested()
    {
        var result = new Sampler(new SamplingParams(), []).Sample([1f, 2f], NoTokens, NoTokens);

        Assert.Null(result.Logprob);
        Assert.Null(result.TopLogprobs);
    }

    [Fact]
    public void ZeroTopLogprobsGivesTheChosenTokensLogprobOnly()
    {
        float[] logits = [1f, 2f, 0.5f];

        var result = new Sampler(new SamplingParams { TopLogprobs = 0 }, []).Sample(logits, NoTokens, NoTokens);

        Assert.Equal(1, result.TokenId);
        Assert.NotNull(result.Logprob);
        Assert.Equal(LogSoftmax(logits)[1], result.Logprob.Value, 1e-6);
        Assert.NotNull(result.TopLogprobs);
        Assert.Empty(result.TopLogprobs);
    }

    [Fact]
    public void LogprobsEqualLogSoftmaxAndAreSortedDescending()
    {
        var logits = RandomLogits(1_000, seed: 11);
        var expected = LogSoftmax(logits);
        var sampler = new Sampler(new SamplingParams { Temperature = 1f, TopLogprobs = 20, Seed = 8 }, []);

        var result = sampler.Sample(logits, NoTokens, NoTokens);

        Assert.NotNull(result.Logprob);
        Assert.Equal(expected[result.TokenId], result.Logprob.Value, 1e-5);
        Assert.NotNull(result.TopLogprobs);
        Assert.Equal(20, result.TopLogprobs.Count);
        var reference = Enumerable.Range(0, logits.Length).OrderByDescending(i => expected[i]).ThenBy(i => i).Take(20).ToArray();
        Assert.Equal(reference, result.TopLogprobs.Select(t => t.TokenId).ToArray());
        foreach (var (tokenId, logprob) in result.TopLogprobs)
        {
            Assert.Equal(expected[tokenId], logprob, 1e-5);
        }

        for (var i = 1; i < result.TopLogprobs.Count; i++)
        {
            Assert.True(result.TopLogprobs[i - 1].Logprob >= result.TopLogprobs[i].Logprob);
        }
    }

    [Fact]
    public void EqualLogprobsListTheLowerIdFirst()
    {
        var result = new Sampler(new SamplingParams { TopLogprobs = 3 }, []).Sample([1f, 3f, 3f, 2f, 3f], NoTokens, NoTokens);

        Assert.NotNull(result.TopLogprobs);
        Assert.Equal([1, 2, 4], result.TopLogprobs.Select(t => t.TokenId).ToArray());
    }

    [Fact]
    public void LogprobsComeFromRawLogitsNotPenalizedOrTemperatureScaledOnes()
    {
        // Greedy with a presence penalty chooses token 1, but its logprob is the raw model's.
        float[] logits = [3f, 2.9f, 0f];
        var parameters = new SamplingParams { PresencePenalty = 0.5f, RepetitionPenalty = 1.2f, TopLogprobs = 2 };

        var result = new Sampler(parameters, []).Sample(logits, [2], [0]);

        var raw = LogSoftmax(logits);
        Assert.Equal(1, result.TokenId);
        Assert.NotNull(result.Logprob);
        Assert.Equal(raw[1], result.Logprob.Value, 1e-6);
        Assert.NotNull(result.TopLogprobs);
        Assert.Equal([new TokenLogprob(0, (float)raw[0]), new TokenLogprob(1, (float)raw[1])], result.TopLogprobs, LogprobComparer);

        var hot = new Sampler(new SamplingParams { Temperature = 3f, TopLogprobs = 1, Seed = 1 }, []).Sample(logits, NoTokens, NoTokens);
        Assert.NotNull(hot.Logprob);
        Assert.Equal(raw[hot.TokenId], hot.Logprob.Value, 1e-6);
    }

    [Fact]
    public void MoreAlternativesThanVocabularyReturnsTheWholeVocabulary()
    {
        var result = new Sampler(new SamplingParams { TopLogprobs = 5 }, []).Sample([0f, 1f], NoTokens, NoTokens);

        Assert.NotNull(result.TopLogprobs);
        Assert.Equal([1, 0], result.TopLogprobs.Select(t => t.TokenId).ToArray());
        Assert.Equal(1.0, result.TopLogprobs.Sum(t => Math.Exp(t.Logprob)), 1e-6);
    }
}

using Llama4Cluster.Core.Sampling;

using static Llama4Cluster.Core.Tests.Sampling.SamplingReference;

namespace Llama4Cluster.Core.Tests.Sampling;

public sealed class SamplerGreedyTests
{
    [Fact]
    public void GreedyPicksTheArgmax()
    {
        var sampler = new Sampler(new SamplingParams(), []);

        Assert.Equal(3, sampler.Sample([0.1f, -2f, 1.5f, 7.25f, 7.0f], NoTokens, NoTokens).TokenId);
        Assert.Equal(0, sampler.Sample([-1f, -2f, -3f], NoTokens, NoTokens).TokenId);
        Assert.Equal(0, sampler.Sample([42f], NoTokens, NoTokens).TokenId);
    }

    [Fact]
    public void GreedyTiesGoToTheLowestId()
    {
        var sampler = new Sampler(new SamplingParams(), []);

        Assert.Equal(1, sampler.Sample([0f, 5f, 2f, 5f, 5f], NoTokens, NoTokens).TokenId);
        Assert.Equal(0, sampler.Sample([3f, 3f, 3f], NoTokens, NoTokens).TokenId);
    }

    [Fact]
    public void GreedyIgnoresTopKTopPMinPAndSeed()
    {
        float[] logits = [1f, 4f, 2f, 3.9f];
        var sampler = new Sampler(new SamplingParams { TopK = 3, TopP = 0.1f, MinP = 0.9f, Seed = 5 }, []);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(1, sampler.Sample(logits, NoTokens, NoTokens).TokenId);
        }

        var probabilities = Distribution(new SamplingParams(), logits);
        Assert.Equal([0f, 1f, 0f, 0f], probabilities);
    }

    [Fact]
    public void TemperatureBelowEpsilonIsGreedy()
    {
        var sampler = new Sampler(new SamplingParams { Temperature = 1e-6f, Seed = 1 }, []);

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(2, sampler.Sample([1f, 1.2f, 1.3f], NoTokens, NoTokens).TokenId);
        }
    }

    [Fact]
    public void GreedyUsesPenalizedLogits()
    {
        // Token 0 was generated: the presence penalty 0.5 lowers it from 3 to 2.5, below token 1's 2.9.
        var sampler = new Sampler(new SamplingParams { PresencePenalty = 0.5f }, []);

        Assert.Equal(1, sampler.Sample([3f, 2.9f], NoTokens, [0]).TokenId);
        Assert.Equal(0, sampler.Sample([3f, 2.9f], NoTokens, NoTokens).TokenId);
    }
}

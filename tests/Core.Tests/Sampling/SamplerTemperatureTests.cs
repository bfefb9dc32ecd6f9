using Llama4Cluster.Core.Sampling;

using static Llama4Cluster.Core.Tests.Sampling.SamplingReference;

namespace Llama4Cluster.Core.Tests.Sampling;

public sealed class SamplerTemperatureTests
{
    [Theory]
    [InlineData(1.0f)]
    [InlineData(0.5f)]
    [InlineData(2.0f)]
    public void DistributionIsSoftmaxOfLogitsOverTemperature(float temperature)
    {
        float[] logits = [0.5f, 1.5f, -0.3f, 1.0f, 0.0f, 2.0f];

        var probabilities = Distribution(new SamplingParams { Temperature = temperature }, logits);

        var expected = Softmax(logits, temperature);
        for (var i = 0; i < logits.Length; i++)
        {
            Assert.Equal(expected[i], probabilities[i], 1e-6);
        }
    }

    [Theory]
    [InlineData(0.8f, 1234L)]
    [InlineData(1.3f, 99L)]
    public void DrawFrequenciesMatchSoftmaxWithinChiSquareBound(float temperature, long seed)
    {
        float[] logits = [0.5f, 1.5f, -0.3f, 1.0f, 0.0f, 2.0f];
        const int draws = 60_000;
        var sampler = new Sampler(new SamplingParams { Temperature = temperature, Seed = seed }, []);
        var counts = new int[logits.Length];

        for (var i = 0; i < draws; i++)
        {
            counts[sampler.Sample(logits, NoTokens, NoTokens).TokenId]++;
        }

        var expected = Softmax(logits, temperature);
        var chiSquare = 0.0;
        for (var i = 0; i < logits.Length; i++)
        {
            var e = expected[i] * draws;
            chiSquare += (counts[i] - e) * (counts[i] - e) / e;
        }

        // 5 degrees of freedom: P(chi2 > 20.52) = 0.001. The seed is fixed, so this is deterministic, and a biased
        // sampler (e.g. an off-by-one in the CDF walk, or T applied as a multiplier) lands far above it.
        Assert.True(chiSquare < 20.52, $"chi-square {chiSquare:F2} with counts [{string.Join(", ", counts)}]");
    }

    [Fact]
    public void LowTemperatureConcentratesAndHighTemperatureFlattens()
    {
        float[] logits = [1f, 2f, 3f];

        var cold = Distribution(new SamplingParams { Temperature = 0.1f }, logits);
        var hot = Distribution(new SamplingParams { Temperature = 10f }, logits);

        Assert.True(cold[2] > 0.9999f);
        Assert.InRange(hot[0], 0.30f, 0.34f);
        Assert.InRange(hot[2], 0.33f, 0.37f);
    }
}

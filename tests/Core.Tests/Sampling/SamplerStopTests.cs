using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Tests.Sampling;

public sealed class SamplerStopTests
{
    // Llama 4's generation_config.json lists several EOS ids (<|end_of_text|>, <|eom|>, <|eot|>).
    private static readonly int[] Eos = [200001, 200007, 200008];

    [Fact]
    public void EosAndStopTokensStop()
    {
        var sampler = new Sampler(new SamplingParams { StopTokenIds = [13, 42] }, Eos);

        Assert.True(sampler.IsStop(200001));
        Assert.True(sampler.IsStop(200008));
        Assert.True(sampler.IsStop(13));
        Assert.True(sampler.IsStop(42));
        Assert.False(sampler.IsStop(0));
        Assert.False(sampler.IsStop(200002));
    }

    [Fact]
    public void IgnoreEosKeepsStopTokens()
    {
        var sampler = new Sampler(new SamplingParams { StopTokenIds = [13], IgnoreEos = true }, Eos);

        Assert.False(sampler.IsStop(200001));
        Assert.False(sampler.IsStop(200007));
        Assert.True(sampler.IsStop(13));
    }

    [Fact]
    public void NoEosAndNoStopTokensNeverStops()
    {
        var sampler = new Sampler(new SamplingParams(), []);

        Assert.False(sampler.IsStop(0));
        Assert.False(sampler.IsStop(200001));
    }

    [Fact]
    public void StopListIsCopiedAtConstruction()
    {
        var stops = new List<int> { 5 };
        var sampler = new Sampler(new SamplingParams { StopTokenIds = stops }, Eos);

        stops.Add(6);

        Assert.True(sampler.IsStop(5));
        Assert.False(sampler.IsStop(6));
    }
}

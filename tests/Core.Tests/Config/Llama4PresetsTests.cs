using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Core.Tests.Config;

/// <summary>Parameter arithmetic of spec §1.4, §1.5 and §6 against the presets.</summary>
public sealed class Llama4PresetsTests
{
    [Theory]
    [InlineData("scout", 107_769_861_120L)]
    [InlineData("maverick", 400_711_848_960L)]
    [InlineData("tiny-scout", 537_152L)]
    [InlineData("tiny-maverick", 1_302_960L)]
    public void TextParameterCountsMatchTheSpec(string preset, long expected) =>
        Assert.Equal(expected, Llama4Presets.Get(preset).TotalParameters);

    [Fact]
    public void ActiveParametersAreAbout17B()
    {
        Assert.InRange(Llama4Presets.Scout.ActiveParameters / 1e9, 17.1, 17.25);
        Assert.InRange(Llama4Presets.Maverick.ActiveParameters / 1e9, 17.1, 17.25);
    }

    [Fact]
    public void BehemothEstimateIsAbout288BActiveAnd2TTotal()
    {
        var b = Llama4Presets.BehemothEstimate;
        Assert.InRange(b.ActiveParameters / 1e9, 280, 295);
        Assert.InRange(b.TotalParameters / 1e12, 1.9, 2.1);
    }

    [Fact]
    public void MaverickLayerZeroIsDenseAndNoPeLayersAreEveryFourth()
    {
        var m = Llama4Presets.Maverick;
        Assert.False(m.IsMoeLayer(0));
        Assert.True(m.IsMoeLayer(47));
        Assert.Equal(Enumerable.Range(0, 48).Where(i => i % 4 == 3), Enumerable.Range(0, 48).Where(i => !m.IsRopeLayer(i)));
    }

    [Fact]
    public void UnknownPresetNamesTheKnownOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Llama4Presets.Get("llama5"));
        Assert.Contains("maverick", e.Message);
    }
}

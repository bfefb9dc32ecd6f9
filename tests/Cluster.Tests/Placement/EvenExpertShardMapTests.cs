
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cluster.Tests.Placement;

public sealed class EvenExpertShardMapTests
{
    [Theory]
    [InlineData(16, 3)]
    [InlineData(128, 3)]
    [InlineData(16, 16)]
    [InlineData(16, 1)]
    public void ShardsAreContiguousNearEqualRangesCoveringEveryExpertOnce(int experts, int shards)
    {
        var map = new EvenExpertShardMap(experts, shards);
        var all = Enumerable.Range(0, shards).SelectMany(s => map.ExpertsOf(0, s)).ToArray();
        Assert.Equal(Enumerable.Range(0, experts), all);
        var sizes = Enumerable.Range(0, shards).Select(s => map.ExpertsOf(0, s).Count).ToArray();
        Assert.True(sizes.Max() - sizes.Min() <= 1);
        for (int s = 0; s < shards; s++)
            Assert.All(map.ExpertsOf(0, s), e => Assert.Equal(s, map.ShardOf(0, e)));
    }

    [Fact]
    public void MoreShardsThanExpertsIsRejectedWithTheLimit()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new EvenExpertShardMap(16, 17));
        Assert.Contains("1..16", e.Message);
    }
}

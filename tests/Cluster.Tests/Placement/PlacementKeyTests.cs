using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cluster.Tests.Placement;

/// <summary>Placement keys as grain keys: an attention rank is <c>attention/R</c> (its first stage), a later pipeline stage
/// <c>attention/R/S</c>; both parse back to the same key.</summary>
public sealed class PlacementKeyTests
{
    [Theory]
    [InlineData("attention/3", 3, 0)]
    [InlineData("attention/3/2", 3, 2)]
    public void AttentionKeysRoundTripWithTheirStage(string text, int rank, int stage)
    {
        var key = PlacementKey.Parse(text);
        Assert.Equal(PlacementKind.AttentionRank, key.Kind);
        Assert.Equal(rank, key.Rank);
        Assert.Equal(stage, key.Stage);
        Assert.Equal(text, key.ToString());
        Assert.Equal(PlacementKey.ForAttentionStage(rank, stage), key);
        Assert.Equal(stage == 0 ? "attention rank 3" : "attention rank 3 stage 2", key.Describe());
    }

    [Fact]
    public void AStageIsNotTheRankAndItsKeyNeedsANumber()
    {
        Assert.NotEqual(PlacementKey.ForAttentionRank(1), PlacementKey.ForAttentionStage(1, 1));
        Assert.False(PlacementKey.TryParse("attention/1/x", out _));
    }
}

using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Tests.Placement;

/// <summary>What losing one host costs a plan: shards without a replica left (and the bytes to re-load), and whether an
/// attention rank lives elsewhere.</summary>
public sealed class HostLossTests
{
    private const long H100 = 80L << 30;
    private static readonly Llama4TextConfig Maverick = Llama4Presets.Get("maverick");

    [Fact]
    public void WithTwoReplicasOnDistinctHostsAndTwoRanksThePlanSurvivesAnyOneHost()
    {
        var plan = PlacementPlanner.Plan(Maverick, WeightDType.Bf16, ClusterInventory.Uniform(4, 8, H100),
            new PlacementOptions { Replicas = 2, AttentionRanks = 2 }).Plan!;
        Assert.True(HostLoss.SurvivesAnyOne(plan));
        // The planner put every shard's two replicas on two hosts.
        Assert.All(plan.ExpertShards.GroupBy(s => (s.Layer, s.Shard)), g => Assert.Equal(2, g.Select(r => r.Silo).Distinct().Count()));
        Assert.StartsWith("losing any one of the 4 silos: survives", HostLoss.Describe(plan));
    }

    [Fact]
    public void WithoutReplicasEachHostsShardsMustBeReloadedAndTheRanksHostLeavesNoRank()
    {
        var plan = PlacementPlanner.Plan(Maverick, WeightDType.Bf16, ClusterInventory.Uniform(4, 8, H100)).Plan!;
        var losses = HostLoss.Of(plan);
        Assert.False(HostLoss.SurvivesAnyOne(plan));
        foreach (var loss in losses)
        {
            var own = plan.ExpertShards.Where(s => s.Silo == loss.Silo).ToList();
            Assert.Equal(own.Count, loss.ShardsWithoutReplica);
            Assert.Equal(own.Sum(s => s.Bytes), loss.BytesToReload);
        }

        var rankHost = plan.AttentionRanks.Single().Silo;
        Assert.False(losses.Single(l => l.Silo == rankHost).RankLeft);
        Assert.Contains("does NOT survive", HostLoss.Describe(plan));
    }
}

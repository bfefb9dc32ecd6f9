using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cluster.Tests.Placement;

/// <summary><see cref="PlacementPlan.DeviceFor"/>: the device a silo started with <c>--device plan</c> gives each grain.</summary>
public sealed class PlacementPlanDeviceTests
{
    [Fact]
    public void EveryShardReplicaAndRankStageGetsTheDeviceThePlanNames()
    {
        var plan = TestPlans.MaverickFp8(); // one host of 8 GPUs: shards spread over cuda:0..7
        Assert.True(plan.ExpertShards.Select(s => s.Device).Distinct().Count() > 1);
        foreach (var shard in plan.ExpertShards)
            Assert.Equal(shard.Device, plan.DeviceFor(shard.Key));
        foreach (var rank in plan.AttentionRanks)
        {
            foreach (var stage in rank.Stages)
                Assert.Equal(stage.Device, plan.DeviceFor(PlacementKey.ForAttentionStage(rank.Rank, stage.Stage)));
            Assert.Equal(rank.Stages[0].Device, plan.DeviceFor(PlacementKey.ForAttentionRank(rank.Rank)));
        }
        Assert.Null(plan.DeviceFor(PlacementKey.ForExpertShard(0, 999)));
        Assert.Null(plan.DeviceFor(PlacementKey.ForAttentionRank(999)));
    }

    [Fact]
    public void ARankWrittenBeforeStagesUsesItsFirstDevice()
    {
        var plan = TestPlans.MaverickFp8();
        var rank = plan.AttentionRanks[0] with { Stages = default, Devices = ["cuda:5"] };
        var old = plan with { AttentionRanks = [rank] };
        Assert.Equal("cuda:5", old.DeviceFor(PlacementKey.ForAttentionRank(rank.Rank)));
        Assert.Null(old.DeviceFor(PlacementKey.ForAttentionStage(rank.Rank, 1)));
    }
}

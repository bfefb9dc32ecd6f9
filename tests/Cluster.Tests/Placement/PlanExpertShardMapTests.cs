using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cluster.Tests.Placement;

public sealed class PlanExpertShardMapTests
{
    private static PlacementPlan Plan(int shards) => PlacementPlanner.Plan(Llama4Presets.TinyMaverick, WeightDType.Bf16, ClusterInventory.Uniform(2, 2, 1L << 30),
        new PlacementOptions { ShardsPerLayer = shards, Replicas = 2, KvBytesPerRank = 1 << 20 }).Plan!;

    [Fact]
    public void EveryMoeLayerMapsEachExpertToThePlannedShard()
    {
        var plan = Plan(3);
        var config = Llama4Presets.TinyMaverick;
        var map = new PlanExpertShardMap(plan, config.NumLocalExperts);
        Assert.Equal(plan.Footprint.MoeLayers.ToArray(), map.Layers.ToArray());
        foreach (int layer in plan.Footprint.MoeLayers)
        {
            Assert.Equal(3, map.ShardCount(layer));
            var all = Enumerable.Range(0, 3).SelectMany(s => map.ExpertsOf(layer, s)).Order();
            Assert.Equal(Enumerable.Range(0, config.NumLocalExperts), all);
            foreach (var shard in plan.ExpertShards.Where(s => s.Layer == layer))
            {
                Assert.Equal(shard.Experts.Order(), map.ExpertsOf(layer, shard.Shard));
                Assert.All(shard.Experts, e => Assert.Equal(shard.Shard, map.ShardOf(layer, e)));
            }
        }
    }

    [Fact]
    public void APlanThatLosesAnExpertOrAskedForADenseLayerIsRejected()
    {
        var plan = Plan(2);
        int layer = plan.Footprint.MoeLayers[0];
        var first = plan.ExpertShards.First(s => s.Layer == layer && s.Replica == 0);
        var broken = plan with { ExpertShards = plan.ExpertShards.Replace(first, first with { Experts = first.Experts.RemoveAt(0) }) };
        var e = Assert.Throws<ArgumentException>(() => new PlanExpertShardMap(broken, Llama4Presets.TinyMaverick.NumLocalExperts));
        Assert.Contains($"expert {first.Experts[0]} of layer {layer} in no shard", e.Message);

        var map = new PlanExpertShardMap(plan, Llama4Presets.TinyMaverick.NumLocalExperts);
        int dense = Enumerable.Range(0, Llama4Presets.TinyMaverick.NumHiddenLayers).First(l => !Llama4Presets.TinyMaverick.IsMoeLayer(l));
        Assert.Contains("no MoE layer", Assert.Throws<ArgumentException>(() => map.ShardCount(dense)).Message);
    }
}

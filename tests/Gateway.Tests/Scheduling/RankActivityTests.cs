using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Api;
using Llama4Cluster.Gateway.Scheduling;

namespace Llama4Cluster.Gateway.Tests.Scheduling;

/// <summary>What the gateway makes of the ranks' dispatch reports: counters summed over ranks, and the live replicas
/// of each shard that some rank cannot reach (a replica down for any rank counts once), on <c>/metrics</c>.</summary>
public sealed class RankActivityTests
{
    private static AttentionRankInfo Info(int rank, long retries, long hedges, params string[] down) =>
        new(rank, "silo", "cpu", 0, 0, 0, DispatchRetries: retries, ReplicasDown: down.Length, DispatchHedges: hedges, ExpertReplicas: 2,
            DownReplicas: [.. down]);

    [Fact]
    public void DegradedShardsCountEachDownReplicaOnceAcrossRanks()
    {
        var activity = new RankActivity(2);
        Assert.Equal(0, activity.ExpertReplicas);
        activity.RecordDispatch(0, Info(0, 3, 1, "1/0", "2/1/1"));
        activity.RecordDispatch(1, Info(1, 2, 4, "1/0", "1/0/1"));

        Assert.Equal((5L, 5L, 4, 2), (activity.DispatchRetries, activity.DispatchHedges, activity.ReplicasDown, activity.ExpertReplicas));
        var degraded = activity.DegradedShards();
        Assert.Equal(2, degraded.Count);
        Assert.Equal(0, degraded[(1, 0)]); // both replicas of layer 1 shard 0 are down for some rank
        Assert.Equal(1, degraded[(2, 1)]);
    }

    [Fact]
    public void MetricsShowReplicasPerShardTheFewestLiveAndEachDegradedShard()
    {
        var activity = new RankActivity(1);
        var metrics = new GatewayMetrics(ServedTestModel.Served, activity);
        Assert.DoesNotContain("llama4:expert_shard_replicas", metrics.Render(new SchedulerSnapshot(0, 0, 0, 1, 0)));

        activity.RecordDispatch(0, Info(0, 1, 7, "3/2/1"));
        var text = metrics.Render(new SchedulerSnapshot(0, 0, 0, 1, 0));
        Assert.Contains("\nllama4:expert_shard_replicas{model_name=", text);
        Assert.Matches(@"\nllama4:expert_shard_replicas\{[^}]*\} 2\n", text);
        Assert.Matches(@"\nllama4:expert_shard_replicas_live_min\{[^}]*\} 1\n", text);
        Assert.Matches(@"\nllama4:expert_shard_replicas_live\{[^}]*,layer=""3"",shard=""2""\} 1\n", text);
        Assert.Matches(@"\nllama4:expert_dispatch_hedges_total\{[^}]*\} 7\n", text);
    }
}

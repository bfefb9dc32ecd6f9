using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Gateway.Scheduling;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary><see cref="IClusterProbe"/> over the grains' <c>DescribeAsync</c>: a call activates the grain where placement puts
/// it (loading its weights) if it is not active, and answers at once if it is.</summary>
/// <remarks>Each rank's description also reports its dispatch retries and replicas down to <paramref name="activity"/>
/// (for <c>/metrics</c>).</remarks>
public sealed class GrainClusterProbe(IGrainFactory grains, RankActivity? activity = null) : IClusterProbe
{
    public async Task ProbeRankAsync(int rank)
    {
        var info = await grains.GetGrain<IAttentionGrain>(rank).DescribeAsync();
        activity?.RecordDispatch(rank, info);
    }

    public Task ProbeShardAsync(ExpertShardKey key) => grains.GetGrain<IExpertShardGrain>(key.Format()).DescribeAsync();
}

using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary><see cref="IClusterProbe"/> over the grains' <c>DescribeAsync</c>: a call activates the grain where placement puts
/// it (loading its weights) if it is not active, and answers at once if it is.</summary>
public sealed class GrainClusterProbe(IGrainFactory grains) : IClusterProbe
{
    public Task ProbeRankAsync(int rank) => grains.GetGrain<IAttentionGrain>(rank).DescribeAsync();

    public Task ProbeShardAsync(ExpertShardKey key) => grains.GetGrain<IExpertShardGrain>(key.Format()).DescribeAsync();
}

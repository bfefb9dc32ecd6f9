using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// Asks one attention rank or expert shard to answer: the warm-up (which places and loads each grain by asking) and the
/// readiness checks after it (<see cref="ClusterHealthCheck"/>) go through it. A task that faults or does not finish means
/// the grain does not answer. <see cref="GrainClusterProbe"/> calls the grains; tests substitute their own.
/// </summary>
public interface IClusterProbe
{
    Task ProbeRankAsync(int rank);

    Task ProbeShardAsync(ExpertShardKey key);
}

using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>
/// What the data plane serves under a shard key: it hands each request to the shard registered for it and writes back
/// the answer. The seam keeps the socket layer below the expert shards (it never sees weights or compute threads);
/// the expert shard runtime (in Experts, above this folder) is the implementation.
/// </summary>
public interface IDataPlaneShard
{
    Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken);
}

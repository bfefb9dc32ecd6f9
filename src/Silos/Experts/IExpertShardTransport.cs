using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.Experts;

/// <summary>How one dispatch reaches its expert shard: a grain call or the socket data plane.</summary>
public interface IExpertShardTransport
{
    Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken);
}

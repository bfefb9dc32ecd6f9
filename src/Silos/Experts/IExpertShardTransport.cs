using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.Experts;

/// <summary>How one dispatch reaches its expert shard: a grain call or the socket data plane.</summary>
public interface IExpertShardTransport
{
    Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken);

    /// <summary>Completes when the shard grain <paramref name="key"/> is active and reachable (activating it where the
    /// director places it); a probe of a replica that failed.</summary>
    Task ResolveAsync(ExpertShardKey key, CancellationToken cancellationToken);
}

using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// Sees every request an expert shard of this silo is about to compute, whichever transport brought it (metrics,
/// message-discipline checks, fault injection in tests). Registered as silo services; awaited in order.
/// </summary>
public interface IExpertShardObserver
{
    ValueTask OnRequestAsync(ExpertShardRequest request, CancellationToken cancellationToken);
}

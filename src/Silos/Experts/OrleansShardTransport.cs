using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.Experts;

/// <summary>Dispatches as Orleans grain calls: <see cref="IExpertShardGrain.ComputeAsync"/>, the token carried into the call.</summary>
public sealed class OrleansShardTransport(IGrainFactory grains) : IExpertShardTransport
{
    public Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken) =>
        grains.GetGrain<IExpertShardGrain>(request.Key.Format()).ComputeAsync(request, cancellationToken);

    public Task ResolveAsync(ExpertShardKey key, CancellationToken cancellationToken) =>
        grains.GetGrain<IExpertShardGrain>(key.Format()).DescribeAsync().WaitAsync(cancellationToken);
}

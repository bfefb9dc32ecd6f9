using System.Collections.Concurrent;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Silos.DataPlane;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// Dispatches over the tensor data plane: Orleans says where each shard lives (<see cref="IExpertShardGrain.GetDataEndpointAsync"/>,
/// once, cached), then requests go straight to that silo's socket. A failed request forgets the endpoint, so the next
/// step resolves the shard again (it may have moved or restarted).
/// </summary>
public sealed class TcpShardTransport(IGrainFactory grains, DataPlaneClient client) : IExpertShardTransport
{
    private readonly ConcurrentDictionary<ExpertShardKey, DataEndpoint> _endpoints = new();

    public async Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken)
    {
        var key = request.Key;
        if (!_endpoints.TryGetValue(key, out var endpoint)) endpoint = await ResolveEndpointAsync(key, cancellationToken);
        try
        {
            return await client.ComputeAsync(endpoint, request, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            _endpoints.TryRemove(key, out _);
            throw;
        }
    }

    public Task ResolveAsync(ExpertShardKey key, CancellationToken cancellationToken) => ResolveEndpointAsync(key, cancellationToken);

    private async Task<DataEndpoint> ResolveEndpointAsync(ExpertShardKey key, CancellationToken cancellationToken)
    {
        var endpoint = await grains.GetGrain<IExpertShardGrain>(key.Format()).GetDataEndpointAsync().WaitAsync(cancellationToken);
        _endpoints[key] = endpoint;
        return endpoint;
    }
}

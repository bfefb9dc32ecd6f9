using System.Collections.Concurrent;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Silos.Experts;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>The expert shards active on this silo, for the data plane to find by key. Grains add and remove themselves.</summary>
public sealed class ExpertShardRegistry
{
    private readonly ConcurrentDictionary<ExpertShardKey, ExpertShardRuntime> _shards = new();

    public void Add(ExpertShardKey key, ExpertShardRuntime runtime) => _shards[key] = runtime;

    public void Remove(ExpertShardKey key, ExpertShardRuntime runtime) => _shards.TryRemove(new KeyValuePair<ExpertShardKey, ExpertShardRuntime>(key, runtime));

    public bool TryGet(ExpertShardKey key, out ExpertShardRuntime runtime) => _shards.TryGetValue(key, out runtime!);
}

using System.Collections.Concurrent;
using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>The expert shards active on this silo, for the data plane to find by key. Grains add and remove themselves.</summary>
public sealed class ExpertShardRegistry
{
    private readonly ConcurrentDictionary<ExpertShardKey, IDataPlaneShard> _shards = new();

    public void Add(ExpertShardKey key, IDataPlaneShard shard) => _shards[key] = shard;

    public void Remove(ExpertShardKey key, IDataPlaneShard shard) => _shards.TryRemove(new KeyValuePair<ExpertShardKey, IDataPlaneShard>(key, shard));

    public bool TryGet(ExpertShardKey key, out IDataPlaneShard shard) => _shards.TryGetValue(key, out shard!);
}

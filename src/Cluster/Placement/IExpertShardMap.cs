namespace Llama4Cluster.Cluster.Placement;

/// <summary>Which shard of a MoE layer owns which routed expert.</summary>
public interface IExpertShardMap
{
    int ShardCount(int layer);

    /// <summary>Replicas of every shard (grains <c>layer/shard/replica</c> on distinct silos, holding the same experts).</summary>
    int Replicas { get; }

    int ShardOf(int layer, int expert);

    /// <summary>The experts of a shard, ascending.</summary>
    IReadOnlyList<int> ExpertsOf(int layer, int shard);
}

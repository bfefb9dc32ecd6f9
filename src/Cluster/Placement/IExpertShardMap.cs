namespace Llama4Cluster.Cluster.Placement;

/// <summary>Which shard of a MoE layer owns which routed expert.</summary>
public interface IExpertShardMap
{
    int ShardCount(int layer);

    int ShardOf(int layer, int expert);

    /// <summary>The experts of a shard, ascending.</summary>
    IReadOnlyList<int> ExpertsOf(int layer, int shard);
}

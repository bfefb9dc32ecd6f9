namespace Llama4Cluster.Cluster.Placement;

/// <summary>What a silo offers to the cluster: routed-expert shards, attention ranks, or both.</summary>
public enum SiloRole
{
    /// <summary>Holds expert-shard grains only.</summary>
    Expert,
    /// <summary>Holds attention-rank grains only (all non-expert weights plus the KV caches).</summary>
    Attention,
    /// <summary>Holds either kind.</summary>
    All,
}

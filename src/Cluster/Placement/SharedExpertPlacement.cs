namespace Llama4Cluster.Cluster.Placement;

/// <summary>Where each MoE layer's shared expert runs: with the attention rank (stage) that owns the layer, or as one more expert shard that every token is routed to.</summary>
public enum SharedExpertPlacement { Rank, Shards }

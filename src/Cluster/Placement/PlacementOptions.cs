namespace Llama4Cluster.Cluster.Placement;

/// <summary>The planner's knobs. Every null means "choose automatically" as described on the property.</summary>
public sealed record PlacementOptions
{
    /// <summary>
    /// Attention ranks. Null: one per silo with role <see cref="SiloRole.Attention"/>, or one rank when every
    /// attention-capable silo also holds experts (each rank costs a full copy of the non-expert weights).
    /// </summary>
    public int? AttentionRanks { get; init; }

    /// <summary>
    /// Devices of one silo that one attention rank spans (its non-expert weights and KV split evenly,
    /// tensor-parallel over KV heads). Must divide the KV head count. Null: the fewest that fit.
    /// </summary>
    public int? AttentionDevicesPerRank { get; init; }

    /// <summary>KV-cache bytes reserved per attention rank. Null: <see cref="Sequences"/> × the KV of <see cref="ContextTokens"/>.</summary>
    public long? KvBytesPerRank { get; init; }

    /// <summary>Concurrent sequences per attention rank the KV budget must hold.</summary>
    public int Sequences { get; init; } = 8;

    /// <summary>Tokens of context per sequence the KV budget must hold.</summary>
    public int ContextTokens { get; init; } = 8192;

    /// <summary>Expert shards per MoE layer. Null: one per expert-capable device, at most one per expert.</summary>
    public int? ShardsPerLayer { get; init; }

    /// <summary>Copies of every expert shard, each on a different device.</summary>
    public int Replicas { get; init; } = 1;

    /// <summary>Fraction of every device left free for activations, workspaces and the runtime.</summary>
    public double Headroom { get; init; } = 0.10;

    /// <summary>Throws <see cref="ArgumentException"/> saying which value to fix.</summary>
    public void Validate()
    {
        if (AttentionRanks is < 1) throw new ArgumentException($"attention ranks must be at least 1; got {AttentionRanks}");
        if (AttentionDevicesPerRank is < 1) throw new ArgumentException($"devices per attention rank must be at least 1; got {AttentionDevicesPerRank}");
        if (KvBytesPerRank is < 0) throw new ArgumentException($"the KV budget per rank must not be negative; got {KvBytesPerRank}");
        if (Sequences < 0) throw new ArgumentException($"sequences must not be negative; got {Sequences}");
        if (ContextTokens < 0) throw new ArgumentException($"context tokens must not be negative; got {ContextTokens}");
        if (ShardsPerLayer is < 1) throw new ArgumentException($"shards per layer must be at least 1; got {ShardsPerLayer}");
        if (Replicas < 1) throw new ArgumentException($"replicas must be at least 1; got {Replicas}");
        if (!(Headroom >= 0 && Headroom < 1)) throw new ArgumentException($"headroom must be in [0, 1); got {Headroom}");
    }
}

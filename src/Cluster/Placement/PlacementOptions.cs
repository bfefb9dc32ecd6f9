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
    /// Pipeline stages per attention rank, each on one device holding its layers (cut as the runtime's
    /// <c>LayerRange.Split</c> cuts them; at most one per layer). Null: the fewest with which every stage fits a device.
    /// </summary>
    public int? Stages { get; init; }

    /// <summary>
    /// Where the MoE layers' shared experts run. Null (auto): as expert shards when that takes fewer stages per rank (or
    /// is the only way the ranks fit) and the expert devices have room, else with the rank.
    /// </summary>
    public SharedExpertPlacement? SharedExperts { get; init; }

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
        if (Stages is < 1) throw new ArgumentException($"stages per attention rank must be at least 1; got {Stages}");
        if (SharedExperts is { } shared && !Enum.IsDefined(shared)) throw new ArgumentException($"shared experts must be rank or shards; got {(int)shared}");
        if (KvBytesPerRank is < 0) throw new ArgumentException($"the KV budget per rank must not be negative; got {KvBytesPerRank}");
        if (Sequences < 0) throw new ArgumentException($"sequences must not be negative; got {Sequences}");
        if (ContextTokens < 0) throw new ArgumentException($"context tokens must not be negative; got {ContextTokens}");
        if (ShardsPerLayer is < 1) throw new ArgumentException($"shards per layer must be at least 1; got {ShardsPerLayer}");
        if (Replicas < 1) throw new ArgumentException($"replicas must be at least 1; got {Replicas}");
        if (!(Headroom >= 0 && Headroom < 1)) throw new ArgumentException($"headroom must be in [0, 1); got {Headroom}");
    }
}

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// What a silo serves and how, bound from the <c>Llama4</c> configuration section
/// (<c>Llama4:ModelDirectory</c>, <c>Llama4:Device</c>, …; command-line flags map onto it).
/// </summary>
public sealed class ClusterModelOptions
{
    public const string SectionName = "Llama4";

    /// <summary>Hugging Face checkpoint directory (config.json + safetensors), readable from every silo.</summary>
    public string ModelDirectory { get; set; } = "";

    /// <summary>Torch device of this silo's grains: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>Compute dtype of weights and activations: <c>bfloat16</c> (serving) or <c>float32</c> (exactness).</summary>
    public string DType { get; set; } = "bfloat16";

    /// <summary>Activation dtype on the wire: <c>bf16</c> (default) or <c>fp32</c> (exactness tests).</summary>
    public string WireDType { get; set; } = "bf16";

    /// <summary>
    /// What this silo hosts: <c>expert</c>, <c>attention</c> or <c>all</c>. The placement plan's inventory carries each
    /// silo's role and the director places by it; a grain refuses to activate on a silo whose role excludes it.
    /// </summary>
    public string Role { get; set; } = "all";

    /// <summary>
    /// JSON placement plan (<c>llama4 plan ... --out FILE</c>, <c>--plan FILE</c>); empty: no plan (grains spread over the silos).
    /// Loaded and checked against the checkpoint's config at start; the director and the expert-shard map then follow it.
    /// </summary>
    public string PlacementPlanFile { get; set; } = "";

    /// <summary>
    /// This silo's name (<c>--name</c>), set as Orleans' silo name: a plan's silo entry without an endpoint is matched to the
    /// running silo of the same name. Empty: Orleans' default name.
    /// </summary>
    public string SiloName { get; set; } = "";

    /// <summary>Expert shards per MoE layer (the static assignment splits each layer's experts evenly); ignored when the silo has a placement plan.</summary>
    public int ShardsPerLayer { get; set; } = 2;

    /// <summary>Attention ranks the engine spreads sequences over.</summary>
    public int AttentionRanks { get; set; } = 1;

    /// <summary>
    /// What carries expert dispatches: <c>orleans</c> (one grain call per shard) or <c>tcp</c> (the silo-to-silo
    /// tensor data plane: Orleans resolves where each shard lives, activations flow over persistent sockets).
    /// </summary>
    public string DataPlane { get; set; } = "tcp";

    /// <summary>TCP port of this silo's data plane; 0 picks a free one (advertised through the shard grains).</summary>
    public int DataPlanePort { get; set; }

    /// <summary>How long a dispatch waits for one expert shard before the step fails.</summary>
    public TimeSpan ShardTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Orleans' maximum message body size, set deliberately (Orleans' default is 100 MB). Prefill is split so
    /// that no dispatch or logits message exceeds <see cref="MessageBudgetFraction"/> of it.
    /// </summary>
    public int MaxMessageBytes { get; set; } = 64 << 20;

    /// <summary>Share of <see cref="MaxMessageBytes"/> one tensor payload may use.</summary>
    public double MessageBudgetFraction { get; set; } = 0.25;

    /// <summary>Dedicated threads for tensor work per silo (off Orleans' scheduler).</summary>
    public int ComputeThreads { get; set; } = 1;

    /// <summary>Torch intra-op threads for this process; null leaves torch's default (one per core).</summary>
    public int? TorchThreads { get; set; }

    /// <summary>The largest tensor payload allowed in one message, in bytes.</summary>
    public long PayloadBudgetBytes => (long)(MaxMessageBytes * MessageBudgetFraction);
}

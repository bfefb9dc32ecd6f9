using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Model;

/// <summary>
/// What a silo serves and how, bound from the <c>Llama4</c> configuration section
/// (<c>Llama4:ModelDirectory</c>, <c>Llama4:Device</c>, …; command-line flags map onto it). The defaults here are the one
/// set of defaults of every silo however it is started: a silo process, the gateway's co-hosted silo, or the CLI's
/// ephemeral cluster (each passes only what its own flags set).
/// </summary>
public sealed class ClusterModelOptions
{
    public const string SectionName = "Llama4";

    /// <summary>Hugging Face checkpoint directory (config.json + safetensors), readable from every silo.</summary>
    public string ModelDirectory { get; set; } = "";

    /// <summary>Torch device of this silo's grains: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c>.</summary>
    public string Device { get; set; } = "cpu";

    /// <summary>
    /// Compute dtype of weights and activations: <c>float32</c> (the default, as the gateway: exact, and a greedy
    /// request's tokens do not depend on what else is in the batch), <c>bfloat16</c> (faster; its kernels' accumulation
    /// order follows the batch shape, so tokens may change with the batch, unless <see cref="BatchInvariant"/>) or <c>auto</c> (the checkpoint's dtype:
    /// <see cref="Kernels.Runtime.ComputeDType.ForCheckpoint"/>). <c>fp32</c> and <c>bf16</c> are accepted too.
    /// </summary>
    public string DType { get; set; } = "float32";

    /// <summary>
    /// bf16 with batch-invariant kernels (<c>--batch-invariant true</c>): a sequence's tokens do not depend on the rest of
    /// its batch nor on a failover's re-prefill. Every silo of a cluster should agree. No effect in float32.
    /// </summary>
    public bool BatchInvariant { get; set; }

    /// <summary>Activation dtype on the wire: <c>bf16</c> or <c>fp32</c>; empty (the default): the compute dtype's (fp32 for float32, bf16 for bfloat16).</summary>
    public string WireDType { get; set; } = "";

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

    /// <summary>
    /// Replicas of every expert shard (<c>--expert-replicas</c>), each on its own silo when there are enough expert silos:
    /// the dispatcher spreads steps over the live replicas and, when one fails or stalls, sends the dispatch to another
    /// within the same step. Every silo of a cluster must use the same value (a silo that disagrees refuses to start);
    /// ignored when the silo has a placement plan (the plan's replicas count).
    /// </summary>
    public int ExpertReplicas { get; set; } = 1;

    /// <summary>How long a dispatch waits for one replica while another replica of the shard is live, before it tries that one.</summary>
    public TimeSpan ReplicaTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long an attention rank keeps a sequence no step has touched (a gateway that died leaves its sequences
    /// behind; a failover may leave a copy on a rank that was only unreachable): checked every quarter of it.</summary>
    public TimeSpan SequenceLease { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How often a grain that was re-activated away from its preferred silo (after a silo died) checks whether it
    /// can move back at no cost (a restarted silo takes its replicas back); without a plan only.</summary>
    public TimeSpan RebalanceInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Attention ranks the engine spreads sequences over.</summary>
    public int AttentionRanks { get; set; } = 1;

    /// <summary>Pipeline stages per attention rank (contiguous layer ranges, split as evenly as they go): stage 0 is the
    /// rank's grain, each later stage its own grain placed on another attention silo, hidden states handed on once per
    /// forward pass (docs/DESIGN.md "Pipeline stages"). 1: the rank holds every layer. Staged ranks keep no prefix cache.</summary>
    public int Stages { get; set; } = 1;

    /// <summary>
    /// Where each MoE layer's shared expert runs (<c>--shared-experts rank|shards</c>): <see cref="SharedExpertPlacement.Rank"/>
    /// (the default: with the rank or stage that owns the layer) or <see cref="SharedExpertPlacement.Shards"/> (one more expert
    /// shard per MoE layer, index <see cref="ShardsPerLayer"/> after the routed ones, with replicas like any shard, that every
    /// token is sent to; the ranks then hold no shared-expert weight). Every silo of a cluster must use the same value.
    /// </summary>
    public SharedExpertPlacement SharedExperts { get; set; } = SharedExpertPlacement.Rank;

    /// <summary>
    /// What carries expert dispatches: <see cref="DataPlaneKind.Tcp"/> (the default: the silo-to-silo tensor data plane,
    /// measured several times faster than grain calls across processes, docs/DESIGN.md "The socket data plane"; inside one
    /// process, the co-hosted silo, the two measured the same, so it keeps this default) or <see cref="DataPlaneKind.Orleans"/>
    /// (one grain call per shard).
    /// </summary>
    public DataPlaneKind DataPlane { get; set; } = DataPlaneKind.Tcp;

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

    /// <summary>Whether each attention rank keeps a prefix cache (KV of shared prompt prefixes, reused; docs/DESIGN.md
    /// "Prefix caching").</summary>
    public bool PrefixCache { get; set; } = true;

    /// <summary>Tokens per prefix-cache block (the largest divisor of the model's attention_chunk_size not above it is used);
    /// the gateway's <c>Scheduler:PrefixBlockSize</c> should match it for cache-aware routing.</summary>
    public int PrefixCacheBlockSize { get; set; } = 16;

    /// <summary>MiB of KV each attention rank's prefix cache may keep beside its running sequences' caches.</summary>
    public int PrefixCacheMiB { get; set; } = 1024;

    /// <summary>The attention ranks' prefix-cache settings.</summary>
    public Kernels.Model.PrefixCacheOptions ToPrefixCacheOptions() => new()
    {
        Enabled = PrefixCache, BlockSize = PrefixCacheBlockSize, MaxBytes = (long)PrefixCacheMiB << 20,
    };

    /// <summary>The largest tensor payload allowed in one message, in bytes.</summary>
    public long PayloadBudgetBytes => (long)(MaxMessageBytes * MessageBudgetFraction);
}

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// Limits of <see cref="ContinuousBatchScheduler"/>. Checked by <see cref="SchedulerOptionsValidator"/>.
/// </summary>
public sealed class SchedulerOptions
{
    /// <summary>Default of <see cref="KvTokenCapacity"/> at most (2^20 tokens), unless one sequence needs more.</summary>
    public const long DefaultKvTokenCapacityCap = 1L << 20;

    /// <summary>Sequences in the running batch at most (prefilling or decoding); vLLM's <c>max_num_seqs</c>.</summary>
    public int MaxRunningSequences { get; set; } = 64;

    /// <summary>Sequences queued for admission at most; beyond it <see cref="IGenerationScheduler.Submit"/> throws
    /// <see cref="SchedulerQueueFullException"/> (HTTP 429).</summary>
    public int MaxWaitingRequests { get; set; } = 256;

    /// <summary>
    /// Tokens fed to the ranks in one step at most; vLLM's <c>max_num_batched_tokens</c>. Decoding sequences take one
    /// each first; prompt chunks of prefilling sequences, oldest first, share what remains, so a long prompt is
    /// prefilled over several steps and never stalls decoding. At least <see cref="MaxRunningSequences"/>, so every
    /// step has room for every decode and for at least one prompt token.
    /// </summary>
    public int MaxStepTokens { get; set; } = 512;

    /// <summary>
    /// Image tiles that start in one step at most (a sequence's images travel with its first step: 1.35 MB of fp32 pixels
    /// per 336-pixel tile): a new sequence whose images would pass it waits for the next step, unless it is the step's first,
    /// so one request's images never make a step too large to carry and no other request waits for ever. The default, 34,
    /// is the gateway's per-request bound (two images at the largest canvas), about 46 MB, under the cluster's 64 MB messages.
    /// </summary>
    public int MaxStepImageTiles { get; set; } = 34;

    /// <summary>
    /// Decodes wait while any running sequence is still prefilling (vLLM V0's policy without chunked prefill), so a batch
    /// started together has every prompt in its cache before its first decode step. False (default): decodes go first in
    /// every step and prompt chunks share what remains. Benchmarks that time prefill and decode apart (<c>llama4 bench
    /// batch</c>, as llama.cpp's <c>llama-batched-bench</c>) set it; a server leaves it off, since it stalls every running
    /// stream while a new prompt is prefilled.
    /// </summary>
    public bool PrefillFirst { get; set; }

    /// <summary>
    /// Admission budget in tokens: each admitted sequence reserves its prompt plus its max tokens until it ends, and a
    /// sequence is admitted only while the reservations fit. Null (default): <see cref="MaxRunningSequences"/> × the
    /// model's max length, capped at <see cref="DefaultKvTokenCapacityCap"/> but never below one max-length sequence.
    /// Set it from the attention ranks' KV memory (tokens per rank × ranks) on a real deployment: the scheduler cannot
    /// see the ranks' memory.
    /// </summary>
    public long? KvTokenCapacity { get; set; }

    /// <summary>Per-request deadline from submission to the last token, when the submission names none;
    /// <see cref="Timeout.InfiniteTimeSpan"/> for none.</summary>
    public TimeSpan DefaultTimeout { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>What <see cref="SchedulerQueueFullException.RetryAfter"/> advises (the HTTP <c>Retry-After</c>).</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Times a sequence may move to another rank after its rank failed (each move re-prefills its prompt and generated
    /// tokens there and continues the stream unchanged); one more failure ends it with an error. 0: a rank's failure
    /// fails its sequences.
    /// </summary>
    public int MaxFailovers { get; set; } = 3;

    /// <summary>How long one probe of a failed rank may take before it counts as failed (the rank stays out of rotation).</summary>
    public TimeSpan RankProbeTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The pause after a failed probe, doubled after each one up to <see cref="RankProbeMaxPause"/>.</summary>
    public TimeSpan RankProbePause { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The longest pause between probes of a failed rank.</summary>
    public TimeSpan RankProbeMaxPause { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Cache-aware routing (docs/DESIGN.md "Prefix caching"): a new sequence goes to the rank that was sent the longest
    /// prefix of its prompt (block hashes the scheduler remembers, <see cref="PrefixBlockSize"/>) among the ranks that are
    /// not overloaded (<see cref="PrefixRoutingMaxImbalance"/>); false: always the least-loaded rank.
    /// </summary>
    public bool PrefixRouting { get; set; } = true;

    /// <summary>Tokens per prefix block of the routing index; set it to the ranks' prefix-cache block size
    /// (<c>Llama4:PrefixCacheBlockSize</c>, 16 by default) or routing matches nothing.</summary>
    public int PrefixBlockSize { get; set; } = 16;

    /// <summary>
    /// A rank is overloaded for cache-aware routing when it runs more than this many sequences beyond the least-loaded rank
    /// that is up; such a rank is passed over however long its matching prefix (0: prefix matches only break load ties).
    /// </summary>
    public int PrefixRoutingMaxImbalance { get; set; } = 4;

    /// <summary>Block hashes remembered per rank at most (least recently sent forgotten first); about the blocks a rank's
    /// prefix cache holds (its byte budget over the bytes of one block).</summary>
    public int PrefixRoutingBlocksPerRank { get; set; } = 65536;

    /// <summary>The admission budget for a model of <paramref name="maxModelLength"/> tokens (see <see cref="KvTokenCapacity"/>).</summary>
    public long ResolveKvTokenCapacity(int maxModelLength) =>
        KvTokenCapacity ?? Math.Max(maxModelLength, Math.Min((long)MaxRunningSequences * maxModelLength, DefaultKvTokenCapacityCap));
}

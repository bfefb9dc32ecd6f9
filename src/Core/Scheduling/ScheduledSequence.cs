using System.Diagnostics;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// The scheduler's record of one sequence, owned by its step loop (not thread-safe). It holds the sequence's full token
/// record, <see cref="Prompt"/> followed by <see cref="Generated"/>: the gateway is the source of truth for a sequence's
/// tokens and the attention rank's KV cache is only a cache of them, so a failover rebuilds a lost rank's sequences by
/// prefilling this record again on another rank (<see cref="FailOver"/>).
/// </summary>
internal sealed class ScheduledSequence
{
    private readonly GenerationRecord _record;
    private readonly Action<int, SampledToken> _emit;
    private readonly CancellationToken _clientGone;
    private readonly SequenceSettings _start;
    private int[] _feed; // what the rank prefills: the prompt, or after a failover the prompt and the generated tokens
    private int _resumed; // generated tokens in _feed

    public ScheduledSequence(SequenceHandle handle, SequenceSubmission submission, int[] prompt, SequenceSettings start,
        Func<int, bool> isStop, TimeSpan timeout, long deadline)
    {
        Handle = handle;
        RankId = handle.Id;
        Prompt = prompt;
        _feed = prompt;
        _start = start;
        Timeout = timeout;
        Deadline = deadline;
        _clientGone = submission.CancellationToken;
        _record = new GenerationRecord(0, new GenerationRequest(prompt, start.Sampling), isStop);
        _emit = (_, token) => Handle.Writer.TryWrite(new TokenEvent(token));
        Trace = Activity.Current?.Context ?? default;
    }

    /// <summary>The span current when the sequence was submitted (the request's; default: none): its steps join that trace
    /// (<see cref="Diagnostics.CoreTelemetry"/>).</summary>
    public ActivityContext Trace { get; }

    public SequenceHandle Handle { get; }

    public long Id => Handle.Id;

    /// <summary>The id its rank keys its state by: <see cref="Id"/>, and a fresh one after each failover, so a rank that
    /// still holds the old state (it was only unreachable) can never confuse the two.</summary>
    public long RankId { get; private set; }

    /// <summary>The prompt's token ids (a copy of the submission's).</summary>
    public int[] Prompt { get; }

    /// <summary>Tokens sampled and emitted so far (a stop token that ended the sequence is not among them).</summary>
    public IReadOnlyList<int> Generated => _record.Emitted;

    public SamplingParams Sampling => _record.Request.Sampling;

    /// <summary>Sent with the sequence's first step on a rank only: creates its cache and sampler there (after a failover,
    /// with the count of generated tokens the re-prefill carries).</summary>
    public SequenceSettings Start => _resumed == 0 ? _start : _start with { GeneratedTokens = _resumed };

    public TimeSpan Timeout { get; }

    /// <summary>When the sequence times out, in <see cref="TimeProvider.GetTimestamp"/> units; <see cref="long.MaxValue"/> for never.</summary>
    public long Deadline { get; }

    /// <summary>KV tokens reserved against the admission budget while the sequence runs: prompt + max tokens.</summary>
    public long Reservation => (long)Prompt.Length + Sampling.MaxTokens;

    /// <summary>The attention rank holding its cache; -1 until admitted, while it waits for a rank after a failover, and
    /// once ended.</summary>
    public int Rank { get; set; } = -1;

    /// <summary>The sequence has ended (its last event is written); the step loop drops it from the running batch.</summary>
    public bool Ended { get; private set; }

    /// <summary>Times the sequence has moved to another rank after its rank failed.</summary>
    public int Failovers { get; private set; }

    /// <summary>Tiles of the images the sequence's next first step carries (its start); 0 once started or without images.</summary>
    public int PendingImageTiles => Started || _start.Images is null ? 0 : _start.Images.Sum(i => i.TileCount);

    /// <summary>A step carrying <see cref="Start"/> was sent: the rank may hold state to release.</summary>
    public bool Started { get; private set; }

    /// <summary>Tokens of the prefill (the prompt; after a failover, the prompt and the generated tokens) the rank has taken
    /// into the sequence's cache.</summary>
    public int Prefilled { get; private set; }

    public bool Prefilling => Prefilled < _feed.Length;

    /// <summary>What the rank prefills: the prompt, or after a failover the prompt and the generated tokens.</summary>
    public ReadOnlySpan<int> Feed => _feed;

    /// <summary>The rank restored <paramref name="tokens"/> of the step in flight from its prefix cache: before the first
    /// token they count as the prompt's cached tokens (a re-prefill after a failover starts the count again).</summary>
    public void CacheHit(int tokens)
    {
        if (_record.Emitted.Count == 0) Handle.CachedTokens = Math.Min(Prompt.Length, Handle.CachedTokens + tokens);
    }

    /// <summary>Tokens held for the sequence in its rank's KV cache: the prefilled tokens and those generated since.</summary>
    public long KvTokens => (long)Prefilled + _record.Emitted.Count - _resumed;

    /// <summary>Tokens fed by the step in flight, and whether it asked for a sample.</summary>
    public int StepTokens { get; private set; }

    public bool StepSamples { get; private set; }

    public bool Cancelled => Handle.Cancelled.IsCancellationRequested || _clientGone.IsCancellationRequested;

    /// <summary>The next step's part for this sequence: a prompt chunk of at most <paramref name="budget"/> tokens
    /// (sampling only after the prompt's last chunk), or its last generated token.</summary>
    public SequenceWork Plan(int budget)
    {
        var start = Started ? null : Start;
        Started = true;
        if (!Prefilling)
        {
            StepTokens = 1;
            StepSamples = true;
            return new SequenceWork(RankId, new[] { _record.LastToken }, start, Sample: true);
        }

        int n = Math.Min(_feed.Length - Prefilled, budget);
        StepTokens = n;
        StepSamples = Prefilled + n == _feed.Length;
        return new SequenceWork(RankId, _feed.AsMemory(Prefilled, n), start, StepSamples);
    }

    /// <summary>
    /// Its rank failed and dropped its state: it starts again on another rank (the caller assigns it) by prefilling its
    /// prompt and every token it has emitted, then samples the next token. Nothing emitted is emitted again. Returns the
    /// tokens the re-prefill feeds.
    /// </summary>
    /// <param name="rankId">The id the new rank keys it by (<see cref="RankId"/>).</param>
    /// <param name="counted">Whether the move counts against the failover limit: not when only the step's answer was lost
    /// (<see cref="StepAnswerLostException"/>), which says nothing of the sequence's rank.</param>
    public int FailOver(long rankId, bool counted = true)
    {
        if (counted) Failovers++;
        RankId = rankId;
        if (_record.Emitted.Count == 0) Handle.CachedTokens = 0;
        _resumed = _record.Emitted.Count;
        _feed = [.. Prompt, .. _record.Emitted];
        Prefilled = 0;
        Started = false;
        StepTokens = 0;
        StepSamples = false;
        return _feed.Length;
    }

    /// <summary>The rank took the step in flight; <paramref name="sample"/> is its sample when the step asked for one.
    /// Emits the token unless it ends the sequence. Returns whether the sequence has ended.</summary>
    public bool Accept(SampledToken? sample)
    {
        if (Prefilling) Prefilled += StepTokens;
        if (sample is null) return false;
        _record.Accept(sample, _emit);
        return _record.Finished;
    }

    /// <summary>The event that ends a sequence whose record has finished.</summary>
    public FinishedEvent Finished()
    {
        var result = _record.Result();
        return new FinishedEvent(result.FinishReason, result.StopTokenId);
    }

    /// <summary>Writes the last event and completes the handle's channel.</summary>
    public void End(SequenceEvent last)
    {
        Ended = true;
        Handle.Writer.TryWrite(last);
        Handle.Writer.TryComplete();
    }
}

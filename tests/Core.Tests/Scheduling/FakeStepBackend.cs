using System.Collections.Concurrent;
using System.Collections.Immutable;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>
/// A scripted set of attention ranks that keeps the protocol of the attention grain: Start exactly once, on a
/// sequence's first step; unknown ids, ids twice in a step and empty token lists are errors (before any state changes);
/// a failed step drops the state of every sequence in it; releases ignore unknown ids. The next token is a pure function
/// of the sequence's full token history (every token fed so far), so batching cannot change it — only a scheduler that
/// feeds the wrong tokens can. Records every call, and every breach of the protocol the scheduler commits.
/// </summary>
internal sealed class FakeStepBackend : IStepBackend
{
    private readonly Dictionary<long, RankSequence>[] _live;
    private readonly int[] _inFlight;
    private readonly ConcurrentDictionary<int, Exception> _failNext = new();
    private readonly ConcurrentDictionary<int, bool> _dropSampleNext = new();
    private readonly ConcurrentDictionary<long, TaskCompletionSource> _released = new();
    private readonly ConcurrentDictionary<int, bool> _dead = new();
    private readonly ConcurrentDictionary<int, Exception> _failAlways = new();
    private readonly ConcurrentDictionary<long, bool> _failSampling = new();

    public FakeStepBackend(int ranks, Func<IReadOnlyList<int>, int>? next = null)
    {
        _live = Enumerable.Range(0, ranks).Select(_ => new Dictionary<long, RankSequence>()).ToArray();
        _inFlight = new int[ranks];
        Next = next ?? DefaultNext;
    }

    public int Ranks => _live.Length;

    /// <summary>The next token given every token fed to the sequence so far (prompt, then generated).</summary>
    public Func<IReadOnlyList<int>, int> Next { get; }

    /// <summary>When set, the prefix-cache hit each rank reports for a sequence's step (0: none).</summary>
    public Func<SequenceWork, int>? CacheHits { get; set; }

    /// <summary>Held at each step's entry when set.</summary>
    public StepGate? Gate { get; set; }

    /// <summary>When set, every release throws this (after taking effect, as a lost reply would).</summary>
    public Exception? ReleaseError { get; set; }

    public ConcurrentQueue<StepCall> Steps { get; } = new();

    public ConcurrentQueue<(int Rank, ImmutableArray<long> Ids)> Releases { get; } = new();

    /// <summary>Breaches of the protocol (each also thrown at the scheduler).</summary>
    public ConcurrentQueue<string> ProtocolErrors { get; } = new();

    /// <summary>A byte-range token (never a special token such as EOS) hashed from the whole history (FNV-1a).</summary>
    public static int DefaultNext(IReadOnlyList<int> history)
    {
        uint h = 2166136261;
        foreach (int t in history)
        {
            h = (h ^ (uint)t) * 16777619;
        }

        return 3 + (int)(h % 250);
    }

    /// <summary>The tokens <paramref name="prompt"/> produces under <see cref="Next"/> when nothing ends it early.</summary>
    public IReadOnlyList<int> Reference(IReadOnlyList<int> prompt, int count)
    {
        var history = prompt.ToList();
        var produced = new List<int>();
        for (int i = 0; i < count; i++)
        {
            int t = Next(history);
            produced.Add(t);
            history.Add(t);
        }

        return produced;
    }

    /// <summary>The rank's next step throws <paramref name="error"/> (after dropping its sequences, as a rank does).</summary>
    public void FailNextStep(int rank, Exception error) => _failNext[rank] = error;

    /// <summary>Every step of the rank throws <paramref name="error"/> from now on (a rank that answers probes but cannot step).</summary>
    public void FailEveryStep(int rank, Exception error) => _failAlways[rank] = error;

    /// <summary>The rank is gone: its state is lost, and every step and probe fails until <see cref="Revive"/>.</summary>
    public void Kill(int rank)
    {
        _dead[rank] = true;
        lock (_live[rank]) _live[rank].Clear();
    }

    /// <summary>The rank answers again (empty, as a re-activated rank does).</summary>
    public void Revive(int rank) => _dead.TryRemove(rank, out _);

    /// <summary>The next sample of <paramref name="id"/> fails on its rank, which drops it alone (as a sampler error does).</summary>
    public void FailSamplingOf(long id) => _failSampling[id] = true;

    public int Probes => Volatile.Read(ref _probes);

    private int _probes;

    /// <summary>The rank's next step answers with its last sample missing (a broken response).</summary>
    public void DropSampleOfNextStep(int rank) => _dropSampleNext[rank] = true;

    public int LiveSequences(int rank)
    {
        lock (_live[rank]) return _live[rank].Count;
    }

    public int LiveSequences() => Enumerable.Range(0, Ranks).Sum(LiveSequences);

    /// <summary>Completes when <paramref name="id"/> has been released on some rank.</summary>
    public Task Released(long id) => _released.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>The sequence's Start as its rank received it.</summary>
    public SequenceSettings StartOf(long id) =>
        Steps.SelectMany(c => c.Request.Sequences).First(s => s.SequenceId == id && s.Start is not null).Start!;

    public async Task<RankStepResult> StepAsync(int rank, RankStep request, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)rank, (uint)Ranks, nameof(rank));
        if (Interlocked.Increment(ref _inFlight[rank]) != 1) throw Breach($"two steps at once on rank {rank}");
        try
        {
            var call = new StepCall(rank, request);
            Steps.Enqueue(call);
            if (Gate is { } gate) await gate.PassAsync(call, cancellationToken);
            await Task.Yield();
            if (_dead.ContainsKey(rank)) throw new InvalidOperationException($"attention rank {rank} is gone");
            lock (_live[rank]) return Run(rank, request);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight[rank]);
        }
    }

    public Task ProbeAsync(int rank, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)rank, (uint)Ranks, nameof(rank));
        Interlocked.Increment(ref _probes);
        return _dead.ContainsKey(rank) ? Task.FromException(new InvalidOperationException($"attention rank {rank} is gone")) : Task.CompletedTask;
    }

    public Task ReleaseAsync(int rank, IReadOnlyList<long> sequenceIds)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)rank, (uint)Ranks, nameof(rank));
        Releases.Enqueue((rank, [.. sequenceIds]));
        lock (_live[rank])
        {
            foreach (long id in sequenceIds) _live[rank].Remove(id);
        }

        foreach (long id in sequenceIds) _released.GetOrAdd(id, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        if (ReleaseError is { } error) throw error;
        return Task.CompletedTask;
    }

    private RankStepResult Run(int rank, RankStep request)
    {
        var live = _live[rank];
        if (request.Sequences is null || request.Sequences.Count == 0) throw Breach($"step {request.Step} on rank {rank} has no sequences");
        var seen = new HashSet<long>();
        foreach (var s in request.Sequences)
        {
            if (!seen.Add(s.SequenceId)) throw Breach($"sequence {s.SequenceId} appears twice in step {request.Step}");
            if (s.Tokens.IsEmpty) throw Breach($"sequence {s.SequenceId}: a step needs at least one new token");
            if (s.Start is not null && live.ContainsKey(s.SequenceId)) throw Breach($"sequence {s.SequenceId} is already running on rank {rank}");
            if (s.Start is null && !live.ContainsKey(s.SequenceId)) throw Breach($"sequence {s.SequenceId} is unknown on rank {rank}");
        }

        if (_failNext.TryRemove(rank, out var failure) || _failAlways.TryGetValue(rank, out failure))
        {
            foreach (var s in request.Sequences) live.Remove(s.SequenceId);
            throw failure;
        }

        var samples = new List<SequenceSample>();
        var failures = new List<SequenceFailure>();
        foreach (var s in request.Sequences)
        {
            if (s.Start is { } start) live.Add(s.SequenceId, new RankSequence(start));
            var state = live[s.SequenceId];
            // The scheduler's side of the protocol: once sampled, a sequence is fed exactly its last sampled token.
            if (state.Sampled && (s.Tokens.Length != 1 || !s.Sample || s.Tokens.Span[0] != state.LastSampled))
                throw Breach($"sequence {s.SequenceId} is decoding: it takes its last sampled token ({state.LastSampled}) alone, with a sample");
            state.History.AddRange(s.Tokens.ToArray());
            if (!s.Sample) continue;
            if (_failSampling.TryRemove(s.SequenceId, out _))
            {
                live.Remove(s.SequenceId);
                failures.Add(new SequenceFailure(s.SequenceId, "penalized logit is Infinity"));
                continue;
            }

            state.Sampled = true;
            int token = Next(state.History);
            state.LastSampled = token;
            var top = state.Start.Sampling.TopLogprobs is { } n
                ? Enumerable.Range(0, n).Select(i => new TokenLogprob(token + i, -0.25f * (i + 1))).ToArray()
                : null;
            samples.Add(new SequenceSample(s.SequenceId, new SampledToken(token, state.Start.Sampling.TopLogprobs is null ? null : -0.25f, top)));
        }

        if (_dropSampleNext.TryRemove(rank, out _) && samples.Count > 0) samples.RemoveAt(samples.Count - 1);
        var hits = CacheHits is null ? null
            : request.Sequences.Select(w => new PrefixCacheHit(w.SequenceId, CacheHits(w))).Where(h => h.Tokens > 0).ToArray();
        return new RankStepResult(samples, Failures: failures.Count == 0 ? null : failures, CacheHits: hits is { Length: > 0 } ? hits : null);
    }

    private ArgumentException Breach(string message)
    {
        ProtocolErrors.Enqueue(message);
        return new ArgumentException(message);
    }

    private sealed class RankSequence(SequenceSettings start)
    {
        public SequenceSettings Start { get; } = start;
        public List<int> History { get; } = new();
        public bool Sampled { get; set; }
        public int LastSampled { get; set; }
    }
}

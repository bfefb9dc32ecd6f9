using System.Threading.Channels;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// Iteration-level continuous batching over the attention ranks (Orca, OSDI '22; vLLM's scheduler). One step loop;
/// each iteration:
/// <list type="number">
/// <item>drops sequences that were cancelled or passed their deadline (releasing them on their ranks);</item>
/// <item>admits waiting sequences first come, first served while fewer than <see cref="SchedulerOptions.MaxRunningSequences"/>
/// run and their KV reservations (prompt + max tokens) fit <see cref="SchedulerOptions.KvTokenCapacity"/>, each on the
/// least-loaded rank (or the one holding the longest cached prefix of its prompt, ContinuousBatchScheduler.Routing.cs), so a new request joins the running batch at the very next step;</item>
/// <item>builds the step under <see cref="SchedulerOptions.MaxStepTokens"/>: one token per decoding sequence first, then
/// prompt chunks, oldest sequence first, with what remains (chunked prefill: a long prompt never stalls decoding);</item>
/// <item>runs one <see cref="IStepBackend.StepAsync"/> per rank, all ranks in flight at once (with the releases of
/// sequences that ended since the last step);</item>
/// <item>accepts the samples: a stop or EOS token ends its sequence unemitted, other tokens are emitted, and reaching max
/// tokens ends it.</item>
/// </list>
/// A rank whose step throws is taken out of rotation and probed until it answers again (<see cref="RankHealth"/>); its
/// sequences fail over: each moves to a rank that is up and is re-prefilled there from its token record (prompt and
/// generated tokens), so its stream goes on with no token lost, repeated or changed — at most
/// <see cref="SchedulerOptions.MaxFailovers"/> times, then it fails. A sequence whose own sampling failed ends alone.
/// Nothing ends the loop but stopping the service. The loop sleeps while nothing is running or waiting and wakes on
/// <see cref="Submit"/>.
/// </summary>
public sealed partial class ContinuousBatchScheduler : BackgroundService, IGenerationScheduler
{
    // Random start: ids stay unique across gateway restarts and across gateways sharing the same attention ranks.
    private static long s_nextId = Random.Shared.NextInt64(1, 1L << 62);

    private readonly IStepBackend _backend;
    private readonly ModelLimits _model;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly int _maxRunning;
    private readonly int _maxWaiting;
    private readonly int _maxStepTokens;
    private readonly int _maxStepImageTiles;
    private readonly bool _prefillFirst;
    private readonly long _kvCapacity;
    private readonly TimeSpan _defaultTimeout;
    private readonly TimeSpan _retryAfter;
    private readonly IReadOnlyList<int> _eosTokenIds;
    private readonly int _maxFailovers;
    private readonly RankHealth _health;
    private readonly PrefixRouteIndex? _prefixIndex; // null: one rank, or routing off
    private readonly int _prefixImbalance;

    private readonly Lock _queueLock = new();
    private readonly Queue<ScheduledSequence> _waiting = new(); // guarded by _queueLock
    private bool _stopped; // guarded by _queueLock

    // One token at most: Submit leaves one, the idle loop waits for it; extra wakes are dropped.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    // Owned by the step loop.
    private readonly List<ScheduledSequence> _running = new();
    private readonly int[] _rankLoad;
    private readonly PendingReleases _releases;
    private readonly List<Task> _releasing = new();
    private long _kvReserved;

    // Published by the step loop for Snapshot.
    private int _runningCount;
    private long _kvTokens;
    private long _steps;
    private long _failovers;
    private long _reprefilledTokens;
    private long _failedRankSteps;

    public ContinuousBatchScheduler(IStepBackend backend, ModelLimits model, IOptions<SchedulerOptions> options,
        ILogger<ContinuousBatchScheduler> logger, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        var o = options.Value;
        var problems = SchedulerOptionsValidator.Problems(o, model.MaxModelLength).ToList();
        if (problems.Count > 0) throw new ArgumentException("invalid scheduler options: " + string.Join(" ", problems), nameof(options));
        if (backend.Ranks < 1) throw new ArgumentException($"the step backend has {backend.Ranks} attention ranks; it needs at least one", nameof(backend));
        if (model.MaxModelLength < 1) throw new ArgumentException($"the served model's max length is {model.MaxModelLength}; it must be positive", nameof(model));

        _backend = backend;
        _model = model;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _maxRunning = o.MaxRunningSequences;
        _maxWaiting = o.MaxWaitingRequests;
        _maxStepTokens = o.MaxStepTokens;
        _maxStepImageTiles = o.MaxStepImageTiles;
        _prefillFirst = o.PrefillFirst;
        _kvCapacity = o.ResolveKvTokenCapacity(model.MaxModelLength);
        _defaultTimeout = o.DefaultTimeout;
        _retryAfter = o.RetryAfter;
        _eosTokenIds = model.EosTokenIds.ToArray();
        _rankLoad = new int[backend.Ranks];
        _releases = new PendingReleases(backend.Ranks);
        _maxFailovers = o.MaxFailovers;
        _prefixIndex = o.PrefixRouting && backend.Ranks > 1 ? new PrefixRouteIndex(backend.Ranks, o.PrefixBlockSize, o.PrefixRoutingBlocksPerRank) : null;
        _prefixImbalance = o.PrefixRoutingMaxImbalance;
        _health = new RankHealth(backend, _time, o.RankProbeTimeout, o.RankProbePause, o.RankProbeMaxPause,
            onUp: () => _wake.Writer.TryWrite(true), onProbeFailed: (e, rank) => LogProbeFailed(e, rank));
    }

    /// <summary>
    /// Raised on the step loop after each step, with what it did. Handlers must be quick; one that throws is logged
    /// and does not disturb serving. When nobody listens, nothing is built.
    /// </summary>
    public event Action<SchedulerStepInfo>? StepCompleted;

    /// <summary>The admission budget in tokens (<see cref="SchedulerOptions.KvTokenCapacity"/> resolved for the model).</summary>
    public long KvTokenCapacity => _kvCapacity;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(_backend.Ranks, _maxRunning, _maxStepTokens, _kvCapacity);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (_running.Count == 0 && WaitingCount() == 0)
                {
                    StartReleases();
                    await _wake.Reader.ReadAsync(stoppingToken);
                    continue;
                }

                try
                {
                    // No rank could take work (every rank is down): wait for a probe to bring one back, or a moment.
                    if (!await IterateAsync(stoppingToken)) await IdleAsync(stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    // A fault of the scheduler itself: the running sequences' state may be half updated, so end them
                    // rather than risk emitting wrong tokens, and keep serving the queue.
                    LogIterationFailed(e, Interlocked.Read(ref _steps));
                    FailRunning(e);
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            await ShutDownAsync();
        }
    }

    /// <summary>One iteration: drop, admit, build, step, accept. Returns false when no rank had work to do.</summary>
    private async Task<bool> IterateAsync(CancellationToken stoppingToken)
    {
        DropCancelledAndExpired();
        int admitted = Admit();
        Publish();
        if (!_running.Any(s => s.Rank >= 0)) return false;

        long started = _time.GetTimestamp();
        var plan = BuildStep();
        long step = Interlocked.Increment(ref _steps);
        using var activity = StartStepActivity(step, plan);
        StartReleases();
        var calls = new List<(int Rank, Task<(RankStepResult? Response, Exception? Error)> Call)>();
        for (int r = 0; r < plan.Work.Length; r++)
        {
            if (plan.Work[r] is { } work) calls.Add((r, StepRankAsync(r, new RankStep(step, work), stoppingToken)));
        }

        await Task.WhenAll(calls.Select(c => (Task)c.Call));

        int finished = 0, failed = 0, sequences = 0;
        foreach (var (rank, call) in calls)
        {
            var members = plan.Members[rank]!;
            sequences += members.Count;
            var (f, x) = AcceptRank(rank, step, members, await call);
            finished += f;
            failed += x;
        }

        _running.RemoveAll(s => s.Ended);
        Publish();
        Report(() => new SchedulerStepInfo(step, calls.Count, sequences, plan.PrefillTokens, plan.Decodes, admitted, finished, failed,
            _running.Count, WaitingCount(), _time.GetElapsedTime(started)));
        return true;
    }

    /// <summary>The step: per rank, its sequences in admission order; one token per decoding sequence first, then prompt
    /// chunks, oldest sequence first, with what remains of <see cref="SchedulerOptions.MaxStepTokens"/> (with
    /// <see cref="SchedulerOptions.PrefillFirst"/>, no decodes while a prompt is still being prefilled); new sequences with
    /// images within <see cref="SchedulerOptions.MaxStepImageTiles"/>.</summary>
    private StepPlan BuildStep()
    {
        var members = new List<ScheduledSequence>?[_backend.Ranks];
        var work = new List<SequenceWork>?[_backend.Ranks];
        bool holdDecodes = _prefillFirst && _running.Any(s => s.Rank >= 0 && s.Prefilling);
        int decodes = holdDecodes ? 0 : _running.Count(s => s.Rank >= 0 && !s.Prefilling);
        int prefillBudget = _maxStepTokens - decodes; // >= 1 when anything prefills: MaxStepTokens >= MaxRunningSequences
        int prefillTokens = 0, imageTiles = 0;
        foreach (var s in _running)
        {
            if (s.Rank < 0) continue; // waiting for a rank after a failover
            bool prefill = s.Prefilling;
            if (prefill ? prefillBudget == 0 : holdDecodes) continue;
            int tiles = s.PendingImageTiles; // its images start with it (SchedulerOptions.MaxStepImageTiles)
            if (tiles > 0 && imageTiles > 0 && imageTiles + tiles > _maxStepImageTiles) continue;
            imageTiles += tiles;
            var part = s.Plan(prefill ? prefillBudget : 1);
            if (prefill)
            {
                prefillBudget -= s.StepTokens;
                prefillTokens += s.StepTokens;
            }

            (members[s.Rank] ??= new List<ScheduledSequence>()).Add(s);
            (work[s.Rank] ??= new List<SequenceWork>()).Add(part);
        }

        return new StepPlan(members, work, decodes, prefillTokens);
    }

    /// <summary>Takes one rank's answer: its samples (a sequence whose own sampling failed ends alone), or its error, which
    /// fails the rank's sequences over to other ranks. Returns how many sequences finished and failed.</summary>
    private (int Finished, int Failed) AcceptRank(int rank, long step, List<ScheduledSequence> members, (RankStepResult? Response, Exception? Error) answer)
    {
        var (response, error) = answer;
        var failures = response?.Failures is { Count: > 0 } f ? f.ToDictionary(x => x.SequenceId, x => x.Error) : null;
        error ??= response is null
            ? new InvalidOperationException($"attention rank {rank} returned no response for step {step}")
            : Mismatch(rank, step, members, response, failures);
        if (error is not null)
        {
            LogRankStepFailed(error, rank, step, members.Count);
            return (0, FailOverRank(rank, error));
        }

        int k = 0, finished = 0, failed = 0;
        var samples = response!.Samples;
        var hits = response.CacheHits is { Count: > 0 } h ? h.ToDictionary(x => x.SequenceId, x => x.Tokens) : null;
        foreach (var s in members)
        {
            if (hits is not null && hits.TryGetValue(s.RankId, out int cached)) s.CacheHit(cached);
            if (failures is not null && failures.TryGetValue(s.RankId, out var why))
            {
                LogSequenceFailed(s.Id, rank, step, why);
                Retire(s, new FailedEvent(new SequenceFailedException(s.Id, why)));
                failed++;
                continue;
            }

            if (!s.Accept(s.StepSamples ? samples[k++].Token : null)) continue;
            var end = s.Finished();
            LogFinished(s.Id, end.Reason, s.Generated.Count);
            RememberEnded(rank, s);
            Retire(s, end);
            finished++;
        }

        return (finished, failed);
    }

    /// <summary>Tells the step's observers, if any; building the info only when someone listens.</summary>
    private void Report(Func<SchedulerStepInfo> info)
    {
        if (StepCompleted is not { } observers) return;
        var step = info();
        try
        {
            observers(step);
        }
        catch (Exception e)
        {
            LogObserverFailed(e, step.Step);
        }
    }

    /// <summary>One step's sequences and work per rank (null: the rank has none this step).</summary>
    private sealed record StepPlan(List<ScheduledSequence>?[] Members, List<SequenceWork>?[] Work, int Decodes, int PrefillTokens);

    /// <summary>Ends a running sequence: frees its slot and reservation, queues its release on its rank. The caller
    /// removes it from <see cref="_running"/> (it is <see cref="ScheduledSequence.Ended"/> from here on).</summary>
    private void Retire(ScheduledSequence s, SequenceEvent last)
    {
        s.End(last);
        if (s.Rank >= 0)
        {
            if (s.Started) _releases.Add(s.Rank, s.RankId);
            _rankLoad[s.Rank]--;
        }

        _kvReserved -= s.Reservation;
        s.Rank = -1;
    }

    private void FailRunning(Exception error)
    {
        foreach (var s in _running)
        {
            if (!s.Ended) Retire(s, new FailedEvent(error));
        }

        _running.Clear();
        Publish();
    }

    private async Task<(RankStepResult? Response, Exception? Error)> StepRankAsync(int rank, RankStep request, CancellationToken stoppingToken)
    {
        try
        {
            return (await _backend.StepAsync(rank, request, stoppingToken), null);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            return (null, e);
        }
    }

    /// <summary>A response that does not hold one sample per sampling sequence (but those it reports failed), in request
    /// order, is the rank's error.</summary>
    private static InvalidOperationException? Mismatch(int rank, long step, List<ScheduledSequence> members, RankStepResult response,
        Dictionary<long, string>? failures)
    {
        var samples = response.Samples;
        if (failures is not null && failures.Keys.Any(id => !members.Any(s => s.RankId == id)))
            return new InvalidOperationException($"attention rank {rank} reported a failure of a sequence that is not in step {step}");
        bool Samples(ScheduledSequence s) => s.StepSamples && failures?.ContainsKey(s.RankId) != true;
        int expected = members.Count(Samples);
        int got = samples?.Count ?? 0;
        if (got != expected)
            return new InvalidOperationException($"attention rank {rank} returned {got} samples for step {step}; {expected} sequences asked for one");
        int k = 0;
        foreach (var s in members)
        {
            if (!Samples(s)) continue;
            if (samples![k].SequenceId != s.RankId)
                return new InvalidOperationException($"attention rank {rank} returned sample {k} of step {step} for sequence {samples[k].SequenceId}; expected {s.RankId}");
            k++;
        }

        return null;
    }

    private async Task ShutDownAsync()
    {
        var error = new OperationCanceledException("the gateway is shutting down");
        List<ScheduledSequence> waiting;
        lock (_queueLock)
        {
            _stopped = true;
            waiting = [.. _waiting];
            _waiting.Clear();
        }

        foreach (var s in waiting) s.End(new FailedEvent(error));
        FailRunning(error);
        _health.Stop();
        StartReleases();
        // A release to a rank that is gone may hang until its transport gives up: do not hold the shutdown for it.
        await Task.WhenAll(_releasing).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        LogStopped(Interlocked.Read(ref _steps));
    }

    private void Publish()
    {
        long kv = 0;
        foreach (var s in _running) kv += s.KvTokens;
        Volatile.Write(ref _kvTokens, kv);
        Volatile.Write(ref _runningCount, _running.Count);
    }

}

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
/// least-loaded rank, so a new request joins the running batch at the very next step;</item>
/// <item>builds the step under <see cref="SchedulerOptions.MaxStepTokens"/>: one token per decoding sequence first, then
/// prompt chunks, oldest sequence first, with what remains (chunked prefill: a long prompt never stalls decoding);</item>
/// <item>runs one <see cref="IStepBackend.StepAsync"/> per rank, all ranks in flight at once (with the releases of
/// sequences that ended since the last step);</item>
/// <item>accepts the samples: a stop or EOS token ends its sequence unemitted, other tokens are emitted, and reaching max
/// tokens ends it.</item>
/// </list>
/// A rank whose step throws fails only that step's sequences (the rank has dropped their state); nothing ends the loop
/// but stopping the service. The loop sleeps while nothing is running or waiting and wakes on <see cref="Submit"/>.
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
    private readonly long _kvCapacity;
    private readonly TimeSpan _defaultTimeout;
    private readonly TimeSpan _retryAfter;
    private readonly IReadOnlyList<int> _eosTokenIds;

    private readonly Lock _queueLock = new();
    private readonly Queue<ScheduledSequence> _waiting = new(); // guarded by _queueLock
    private bool _stopped; // guarded by _queueLock

    // One token at most: Submit leaves one, the idle loop waits for it; extra wakes are dropped.
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    // Owned by the step loop.
    private readonly List<ScheduledSequence> _running = new();
    private readonly int[] _rankLoad;
    private readonly List<long>[] _toRelease;
    private long _kvReserved;

    // Published by the step loop for Snapshot.
    private int _runningCount;
    private long _kvTokens;
    private long _steps;

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
        _kvCapacity = o.ResolveKvTokenCapacity(model.MaxModelLength);
        _defaultTimeout = o.DefaultTimeout;
        _retryAfter = o.RetryAfter;
        _eosTokenIds = model.EosTokenIds.ToArray();
        _rankLoad = new int[backend.Ranks];
        _toRelease = new List<long>[backend.Ranks];
        for (int r = 0; r < _toRelease.Length; r++) _toRelease[r] = new List<long>();
    }

    /// <summary>
    /// Raised on the step loop after each step, with what it did. Handlers must be quick; one that throws is logged
    /// and does not disturb serving. When nobody listens, nothing is built.
    /// </summary>
    public event Action<SchedulerStepInfo>? StepCompleted;

    /// <summary>The admission budget in tokens (<see cref="SchedulerOptions.KvTokenCapacity"/> resolved for the model).</summary>
    public long KvTokenCapacity => _kvCapacity;

    public SequenceHandle Submit(SequenceSubmission submission)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var prompt = ValidatedPrompt(submission);
        var timeout = submission.Timeout ?? _defaultTimeout;
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentException($"Timeout must be positive (or infinite); got {timeout}.", nameof(submission));

        var p = submission.Sampling;
        var start = new SequenceSettings(p, _eosTokenIds);
        var stops = new HashSet<int>([.. p.StopTokenIds, .. p.IgnoreEos ? [] : _eosTokenIds]);
        long now = _time.GetTimestamp();
        var handle = new SequenceHandle(Interlocked.Increment(ref s_nextId), prompt.Length, _time.GetUtcNow());
        var sequence = new ScheduledSequence(handle, submission, prompt, start, stops.Contains, timeout, Deadline(now, timeout));

        lock (_queueLock)
        {
            if (_stopped)
            {
                sequence.End(new FailedEvent(new OperationCanceledException("the gateway is shutting down")));
                return handle;
            }

            if (_waiting.Count >= _maxWaiting)
            {
                LogQueueFull(_waiting.Count);
                throw new SchedulerQueueFullException(_waiting.Count, _retryAfter);
            }

            _waiting.Enqueue(sequence);
        }

        _wake.Writer.TryWrite(true);
        return handle;
    }

    public SchedulerSnapshot Snapshot()
    {
        int waiting;
        lock (_queueLock) waiting = _waiting.Count;
        return new SchedulerSnapshot(Volatile.Read(ref _runningCount), waiting, Volatile.Read(ref _kvTokens), _kvCapacity,
            Interlocked.Read(ref _steps));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(_backend.Ranks, _maxRunning, _maxStepTokens, _kvCapacity);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                if (_running.Count == 0 && WaitingCount() == 0)
                {
                    await ReleaseEndedAsync();
                    await _wake.Reader.ReadAsync(stoppingToken);
                    continue;
                }

                try
                {
                    await IterateAsync(stoppingToken);
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

    /// <summary>One iteration: drop, admit, build, step, accept.</summary>
    private async Task IterateAsync(CancellationToken stoppingToken)
    {
        DropCancelledAndExpired();
        int admitted = Admit();
        Publish();
        if (_running.Count == 0) return;

        // The step: per rank, its sequences in admission order; decodes first, then prompt chunks oldest first.
        var batches = new List<ScheduledSequence>?[_backend.Ranks];
        int decodes = 0;
        foreach (var s in _running)
        {
            if (!s.Prefilling) decodes++;
        }

        int prefillBudget = _maxStepTokens - decodes; // >= 1 when anything prefills: MaxStepTokens >= MaxRunningSequences
        int prefillTokens = 0;
        var steps = new List<SequenceWork>?[_backend.Ranks];
        long started = _time.GetTimestamp();
        foreach (var s in _running)
        {
            bool prefill = s.Prefilling;
            if (prefill && prefillBudget == 0) continue;
            var part = s.Plan(prefill ? prefillBudget : 1);
            if (prefill)
            {
                prefillBudget -= s.StepTokens;
                prefillTokens += s.StepTokens;
            }

            (batches[s.Rank] ??= new List<ScheduledSequence>()).Add(s);
            (steps[s.Rank] ??= new List<SequenceWork>()).Add(part);
        }

        long step = Interlocked.Increment(ref _steps);
        var releases = StartReleases();
        var calls = new List<(int Rank, Task<(RankStepResult? Response, Exception? Error)> Call)>();
        for (int r = 0; r < steps.Length; r++)
        {
            if (steps[r] is { } b) calls.Add((r, StepRankAsync(r, new RankStep(step, b), stoppingToken)));
        }

        await Task.WhenAll(calls.Select(c => (Task)c.Call).Concat(releases));

        int finished = 0, failed = 0, sequences = 0;
        foreach (var (rank, call) in calls)
        {
            var members = batches[rank]!;
            sequences += members.Count;
            var (response, error) = await call;
            error ??= response is null
                ? new InvalidOperationException($"attention rank {rank} returned no response for step {step}")
                : Mismatch(rank, step, members, response);
            if (error is not null)
            {
                LogRankStepFailed(error, rank, step, members.Count);
                foreach (var s in members)
                {
                    // The rank dropped them; releasing too covers a transport failure that left them on the rank.
                    Retire(s, new FailedEvent(error));
                    failed++;
                }

                continue;
            }

            int k = 0;
            var samples = response!.Samples;
            foreach (var s in members)
            {
                if (!s.Accept(s.StepSamples ? samples[k++].Token : null)) continue;
                var end = s.Finished();
                LogFinished(s.Id, end.Reason, s.Generated.Count);
                Retire(s, end);
                finished++;
            }
        }

        _running.RemoveAll(s => s.Rank < 0);
        Publish();
        if (StepCompleted is { } observers)
        {
            try
            {
                observers(new SchedulerStepInfo(step, calls.Count, sequences, prefillTokens, decodes, admitted, finished, failed,
                    _running.Count, WaitingCount(), _time.GetElapsedTime(started)));
            }
            catch (Exception e)
            {
                LogObserverFailed(e, step);
            }
        }
    }

    /// <summary>Cancelled or expired sequences leave the queue and the running batch, ending with a <see cref="FailedEvent"/>.</summary>
    private void DropCancelledAndExpired()
    {
        long now = _time.GetTimestamp();
        lock (_queueLock)
        {
            for (int i = _waiting.Count; i > 0; i--)
            {
                var s = _waiting.Dequeue();
                if (Ended(s, now) is { } end)
                {
                    LogDropped(s.Id, end.Error, running: false);
                    s.End(end);
                }
                else
                {
                    _waiting.Enqueue(s);
                }
            }
        }

        bool any = false;
        foreach (var s in _running)
        {
            if (Ended(s, now) is not { } end) continue;
            LogDropped(s.Id, end.Error, running: true);
            Retire(s, end);
            any = true;
        }

        if (any) _running.RemoveAll(s => s.Rank < 0);
    }

    private static FailedEvent? Ended(ScheduledSequence s, long now)
    {
        if (s.Cancelled) return new FailedEvent(new OperationCanceledException("the request was cancelled"));
        if (now >= s.Deadline)
        {
            return new FailedEvent(new TimeoutException(
                $"the request did not finish within its timeout of {s.Timeout.TotalSeconds:0.###} s (generated {s.Generated.Count} tokens)"));
        }

        return null;
    }

    /// <summary>Admits waiting sequences in order while the running batch and the KV budget have room.</summary>
    private int Admit()
    {
        int admitted = 0;
        lock (_queueLock)
        {
            while (_running.Count < _maxRunning && _waiting.TryPeek(out var next) && _kvReserved + next.Reservation <= _kvCapacity)
            {
                _waiting.Dequeue();
                int rank = 0;
                for (int r = 1; r < _rankLoad.Length; r++)
                {
                    if (_rankLoad[r] < _rankLoad[rank]) rank = r;
                }

                next.Rank = rank;
                _rankLoad[rank]++;
                _kvReserved += next.Reservation;
                _running.Add(next);
                admitted++;
                LogAdmitted(next.Id, rank, next.Prompt.Length, next.Sampling.MaxTokens);
            }
        }

        return admitted;
    }

    /// <summary>Ends a running sequence: frees its slot and reservation, queues its release on its rank. The caller
    /// removes it from <see cref="_running"/> (its rank is -1 from here on).</summary>
    private void Retire(ScheduledSequence s, SequenceEvent last)
    {
        s.End(last);
        if (s.Started) _toRelease[s.Rank].Add(s.Id);
        _rankLoad[s.Rank]--;
        _kvReserved -= s.Reservation;
        s.Rank = -1;
    }

    private void FailRunning(Exception error)
    {
        foreach (var s in _running)
        {
            if (s.Rank >= 0) Retire(s, new FailedEvent(error));
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

    /// <summary>A response that does not hold one sample per sampling sequence, in request order, is the rank's error.</summary>
    private static InvalidOperationException? Mismatch(int rank, long step, List<ScheduledSequence> members, RankStepResult response)
    {
        var samples = response.Samples;
        int expected = members.Count(s => s.StepSamples);
        int got = samples?.Count ?? 0;
        if (got != expected)
            return new InvalidOperationException($"attention rank {rank} returned {got} samples for step {step}; {expected} sequences asked for one");
        int k = 0;
        foreach (var s in members)
        {
            if (!s.StepSamples) continue;
            if (samples![k].SequenceId != s.Id)
                return new InvalidOperationException($"attention rank {rank} returned sample {k} of step {step} for sequence {samples[k].SequenceId}; expected {s.Id}");
            k++;
        }

        return null;
    }

    /// <summary>Sends the releases queued since the last step, one call per rank; they never fail the caller.</summary>
    private List<Task> StartReleases()
    {
        var tasks = new List<Task>();
        for (int r = 0; r < _toRelease.Length; r++)
        {
            if (_toRelease[r].Count == 0) continue;
            tasks.Add(ReleaseQuietlyAsync(r, [.. _toRelease[r]]));
            _toRelease[r].Clear();
        }

        return tasks;
    }

    private Task ReleaseEndedAsync() => Task.WhenAll(StartReleases());

    /// <summary>Best effort: a rank that cannot release is failing or gone, and its state with it.</summary>
    private async Task ReleaseQuietlyAsync(int rank, long[] ids)
    {
        try
        {
            await _backend.ReleaseAsync(rank, ids);
        }
        catch (Exception e)
        {
            LogReleaseFailed(e, rank, ids.Length);
        }
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
        await ReleaseEndedAsync();
        LogStopped(Interlocked.Read(ref _steps));
    }

    private void Publish()
    {
        long kv = 0;
        foreach (var s in _running) kv += s.KvTokens;
        Volatile.Write(ref _kvTokens, kv);
        Volatile.Write(ref _runningCount, _running.Count);
    }

    private int WaitingCount()
    {
        lock (_queueLock) return _waiting.Count;
    }

    private long Deadline(long now, TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan) return long.MaxValue;
        double ticks = timeout.TotalSeconds * _time.TimestampFrequency;
        return ticks >= long.MaxValue - now ? long.MaxValue : now + (long)ticks;
    }

    /// <summary>The prompt as a private copy, checked against the model: not empty, every id in the vocabulary (an id
    /// outside it would fail the whole rank's step), and room for max tokens in the context.</summary>
    private int[] ValidatedPrompt(SequenceSubmission submission)
    {
        if (submission.PromptTokens is null || submission.PromptTokens.Count == 0)
            throw new ArgumentException("the prompt is empty: it needs at least one token", nameof(submission));
        if (submission.Sampling is null) throw new ArgumentException("Sampling is required", nameof(submission));
        submission.Sampling.Validate();
        var prompt = submission.PromptTokens.ToArray();
        int vocab = _model.VocabSize;
        for (int i = 0; i < prompt.Length; i++)
        {
            if ((uint)prompt[i] >= (uint)vocab)
                throw new ArgumentException($"prompt token {i} is {prompt[i]}, outside the model's vocabulary of {vocab} ids (0 to {vocab - 1})", nameof(submission));
        }

        if ((long)prompt.Length + submission.Sampling.MaxTokens > _model.MaxModelLength)
            throw new ContextLengthExceededException(prompt.Length, submission.Sampling.MaxTokens, _model.MaxModelLength);
        return prompt;
    }
}

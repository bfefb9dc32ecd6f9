namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// The scheduler's waiting side (one type, two files: this one is what happens before a sequence's first step):
/// submission, the bounded queue, dropping cancelled and expired sequences, and admission into the running batch.
/// </summary>
public sealed partial class ContinuousBatchScheduler
{
    public SequenceHandle Submit(SequenceSubmission submission)
    {
        ArgumentNullException.ThrowIfNull(submission);
        var prompt = SubmissionCheck.Prompt(submission, _model);
        var timeout = submission.Timeout ?? _defaultTimeout;
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentException($"Timeout must be positive (or infinite); got {timeout}.", nameof(submission));

        var p = submission.Sampling;
        // A seed for every sampled sequence, so a failover that re-creates its sampler on another rank draws the same.
        if (p.Seed is null && !p.IsGreedy) p = p with { Seed = Random.Shared.NextInt64(long.MinValue, long.MaxValue) };
        var start = new SequenceSettings(p, _eosTokenIds, Guidance: submission.Guidance, Images: submission.Images is { Count: > 0 } images ? images : null);
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
            Interlocked.Read(ref _steps), Failovers, ReprefilledTokens, FailedRankSteps, RanksUp, _backend.Ranks);
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

        if (any) _running.RemoveAll(s => s.Ended);
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

    /// <summary>Admits waiting sequences in order, each on a rank that is up (cache-aware: <see cref="PlaceRank"/>), while the running batch and
    /// the KV budget have room.</summary>
    private int Admit()
    {
        int admitted = 0;
        if (!PlaceMoved()) return 0; // sequences moved off a failed rank go first; none fits while every rank is down
        lock (_queueLock)
        {
            while (_running.Count < _maxRunning && _waiting.TryPeek(out var next) && _kvReserved + next.Reservation <= _kvCapacity)
            {
                int rank = PlaceRank(next);
                if (rank < 0) break;
                _waiting.Dequeue();
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
}

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// The scheduler's answer to a failing rank (one type, several files: this one moves sequences between ranks). A rank
/// whose step fails is marked down and probed (<see cref="RankHealth"/>); every sequence assigned to it waits for a rank
/// that is up and is re-prefilled there from its token record (<see cref="ScheduledSequence.FailOver"/>). Releases never
/// hold a step: they run beside the steps, and those for a rank that is down wait until it answers again.
/// </summary>
public sealed partial class ContinuousBatchScheduler
{
    /// <summary>Sequences moved to another rank after their rank failed, since start.</summary>
    public long Failovers => Interlocked.Read(ref _failovers);

    /// <summary>Tokens fed again by those moves (prompt and generated tokens of each moved sequence).</summary>
    public long ReprefilledTokens => Interlocked.Read(ref _reprefilledTokens);

    /// <summary>Rank steps that failed, since start.</summary>
    public long FailedRankSteps => Interlocked.Read(ref _failedRankSteps);

    /// <summary>Attention ranks that take sequences now (a failed rank is out until a probe reaches it).</summary>
    public int RanksUp => _health.UpCount();

    /// <summary>Takes <paramref name="rank"/> out of rotation and moves every sequence assigned to it: each waits for a rank
    /// that is up (<see cref="PlaceMoved"/>), or fails once it has moved <see cref="SchedulerOptions.MaxFailovers"/> times.
    /// Returns how many failed.</summary>
    private int FailOverRank(int rank, Exception error)
    {
        Interlocked.Increment(ref _failedRankSteps);
        // A lost answer (another silo died on its way back) says nothing of the rank: it stays in rotation, and the move
        // does not count against the sequences' failover limit (one silo's death may end several steps in flight).
        bool answerLost = error is StepAnswerLostException;
        if (!answerLost)
        {
            _health.MarkDown(rank);
            _prefixIndex?.Forget(rank); // it may come back with an empty cache
        }

        int failed = 0;
        foreach (var s in _running)
        {
            if (s.Ended || s.Rank != rank) continue;
            if (!answerLost && s.Failovers >= _maxFailovers)
            {
                Retire(s, new FailedEvent(_maxFailovers == 0 ? error : new SequenceFailedException(s.Id,
                    $"its attention rank failed {s.Failovers + 1} times (the limit is {_maxFailovers} moves, Scheduler:MaxFailovers); last error: {error.Message}", error)));
                failed++;
                continue;
            }

            // Its state on the rank is gone, or will be released once the rank answers again.
            if (s.Started) _releases.Add(rank, s.RankId);
            _rankLoad[rank]--;
            s.Rank = -1;
            int tokens = s.FailOver(Interlocked.Increment(ref s_nextId), counted: !answerLost);
            Interlocked.Increment(ref _failovers);
            Interlocked.Add(ref _reprefilledTokens, tokens);
            LogFailedOver(s.Id, rank, s.Failovers, tokens);
        }

        return failed;
    }

    /// <summary>Gives each moved sequence a rank that is up, oldest first; returns false when no rank is up.</summary>
    private bool PlaceMoved()
    {
        foreach (var s in _running)
        {
            if (s.Ended || s.Rank >= 0) continue;
            int rank = PlaceRank(s); // its re-prefill may hit another rank's prefix cache
            if (rank < 0) return false;
            s.Rank = rank;
            _rankLoad[rank]++;
            LogResumed(s.Id, rank, s.Prompt.Length, s.Generated.Count);
        }

        return true;
    }

    /// <summary>The rank that is up with the fewest sequences; -1 when every rank is down.</summary>
    private int LeastLoadedUpRank()
    {
        int best = -1;
        for (int r = 0; r < _rankLoad.Length; r++)
        {
            if (_health.IsUp(r) && (best < 0 || _rankLoad[r] < _rankLoad[best])) best = r;
        }

        return best;
    }

    /// <summary>Sends the queued releases of ranks that are up, beside the steps (never awaited by a step).</summary>
    private void StartReleases()
    {
        _releasing.RemoveAll(t => t.IsCompleted);
        _releasing.AddRange(_releases.Start(_backend, _health.IsUp, LogReleaseFailed));
    }

    /// <summary>Waits for a wake (a submission, or a probe that found a rank up) or a moment, whichever is first.</summary>
    private async Task IdleAsync(CancellationToken stoppingToken)
    {
        using var moment = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        moment.CancelAfter(TimeSpan.FromMilliseconds(50));
        try
        {
            await _wake.Reader.WaitToReadAsync(moment.Token);
            _wake.Reader.TryRead(out _);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            // The moment passed.
        }
    }
}

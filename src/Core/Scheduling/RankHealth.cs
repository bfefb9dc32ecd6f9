namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// Which attention ranks take sequences. A rank whose step failed is down: the scheduler moves its sequences to ranks
/// that are up, and a probe (<see cref="IStepBackend.ProbeAsync"/>, each bounded by a timeout) runs in the background,
/// retried with a doubling pause, until the rank answers again (the cluster re-activates a lost rank on a surviving
/// silo; a restarted silo brings its own) and takes new sequences. Thread-safe: the step loop marks ranks down and reads
/// them, the probes mark them up.
/// </summary>
internal sealed class RankHealth
{
    private readonly IStepBackend _backend;
    private readonly TimeProvider _time;
    private readonly TimeSpan _probeTimeout;
    private readonly TimeSpan _firstPause;
    private readonly TimeSpan _maxPause;
    private readonly Action _onUp;
    private readonly Action<Exception, int> _onProbeFailed;
    private readonly int[] _down;
    private readonly int[] _probing;
    private readonly CancellationTokenSource _stop = new();

    public RankHealth(IStepBackend backend, TimeProvider time, TimeSpan probeTimeout, TimeSpan firstPause, TimeSpan maxPause,
        Action onUp, Action<Exception, int> onProbeFailed)
    {
        _backend = backend;
        _time = time;
        _probeTimeout = probeTimeout;
        _firstPause = firstPause;
        _maxPause = maxPause;
        _onUp = onUp;
        _onProbeFailed = onProbeFailed;
        _down = new int[backend.Ranks];
        _probing = new int[backend.Ranks];
    }

    public bool IsUp(int rank) => Volatile.Read(ref _down[rank]) == 0;

    public int UpCount()
    {
        int up = 0;
        for (int r = 0; r < _down.Length; r++) up += IsUp(r) ? 1 : 0;
        return up;
    }

    /// <summary>Takes the rank out of rotation and starts probing it (unless a probe already runs).</summary>
    public void MarkDown(int rank)
    {
        Volatile.Write(ref _down[rank], 1);
        if (Interlocked.Exchange(ref _probing[rank], 1) == 0) _ = ProbeUntilUpAsync(rank);
    }

    /// <summary>Ends the probes.</summary>
    public void Stop() => _stop.Cancel();

    private async Task ProbeUntilUpAsync(int rank)
    {
        var pause = _firstPause;
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                try
                {
                    await _backend.ProbeAsync(rank, token).WaitAsync(_probeTimeout, _time, token).ConfigureAwait(false);
                    Volatile.Write(ref _down[rank], 0);
                    _onUp();
                    return;
                }
                catch (Exception e) when (!token.IsCancellationRequested)
                {
                    _onProbeFailed(e, rank);
                }

                await Task.Delay(pause, _time, token).ConfigureAwait(false);
                pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, _maxPause.Ticks));
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // Stopping.
        }
        finally
        {
            Volatile.Write(ref _probing[rank], 0);
        }
    }
}

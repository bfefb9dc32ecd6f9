namespace Llama4Cluster.Gateway.Scheduling;

/// <summary>
/// When each attention rank last answered a step successfully (<see cref="ActivityRecordingStepBackend"/> records it). A rank
/// grain runs one call at a time, so a readiness probe may wait behind a long step: a recent successful step is the evidence
/// that such a rank is busy rather than gone. Thread-safe.
/// </summary>
public sealed class RankActivity
{
    private readonly long[] _lastSuccess;
    private readonly TimeProvider _time;

    public RankActivity(int attentionRanks, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attentionRanks, 1);
        _lastSuccess = new long[attentionRanks];
        Array.Fill(_lastSuccess, long.MinValue);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Records that <paramref name="rank"/> answered a step successfully now.</summary>
    public void Succeeded(int rank)
    {
        if ((uint)rank < (uint)_lastSuccess.Length)
            Interlocked.Exchange(ref _lastSuccess[rank], _time.GetTimestamp());
    }

    /// <summary>True when <paramref name="rank"/> answered a step successfully within the last <paramref name="window"/>.</summary>
    public bool SucceededWithin(int rank, TimeSpan window)
    {
        if ((uint)rank >= (uint)_lastSuccess.Length) return false;
        long last = Interlocked.Read(ref _lastSuccess[rank]);
        return last != long.MinValue && _time.GetElapsedTime(last) <= window;
    }
}

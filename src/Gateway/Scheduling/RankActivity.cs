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

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, (long Retries, int ReplicasDown)> _dispatch = new();

    /// <summary>Records what a rank last said of its expert dispatch (from its description): retried dispatches since its
    /// activation and replicas it has out of rotation now.</summary>
    public void RecordDispatch(int rank, long retries, int replicasDown) => _dispatch[rank] = (retries, replicasDown);

    /// <summary>Expert dispatches the ranks retried (on another replica, or after a pause), as last reported.</summary>
    public long DispatchRetries => _dispatch.Values.Sum(d => d.Retries);

    /// <summary>Expert-shard replicas the ranks have out of rotation now, as last reported (a replica counts once per rank).</summary>
    public int ReplicasDown => _dispatch.Values.Sum(d => d.ReplicasDown);
}

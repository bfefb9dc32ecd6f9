namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// Dispatch counters of one dispatcher: calls, payload bytes each way, and where the time went — the wall time MoE layers
/// spent waiting for their shards, and the compute time the shards reported for those calls (for benchmarks and logs).
/// </summary>
public sealed class DispatchStatistics
{
    private long _calls;
    private long _bytesSent;
    private long _bytesReceived;

    public long Calls => Interlocked.Read(ref _calls);

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    private long _waitTicks;
    private long _shardComputeTicks;

    /// <summary>Wall time between sending a MoE layer's dispatches and having all their replies, summed over layers.</summary>
    public TimeSpan DispatchWait => TimeSpan.FromTicks(Interlocked.Read(ref _waitTicks));

    /// <summary>Compute time the shards reported for the calls (several shards of one layer overlap in wall time).</summary>
    public TimeSpan ShardCompute => TimeSpan.FromTicks(Interlocked.Read(ref _shardComputeTicks));

    internal void RecordWait(TimeSpan wait) => Interlocked.Add(ref _waitTicks, wait.Ticks);

    internal void RecordShardCompute(double milliseconds) => Interlocked.Add(ref _shardComputeTicks, TimeSpan.FromMilliseconds(milliseconds).Ticks);

    internal void Record(long bytes)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    internal void RecordResponse(long bytes) => Interlocked.Add(ref _bytesReceived, bytes);

    private long _retries;
    private long _recovered;

    /// <summary>Dispatch attempts that failed or stalled and were sent again (to another replica, or the same after a pause).</summary>
    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>Dispatches that found no live replica and were answered later by one that came back or re-activated.</summary>
    public long Recovered => Interlocked.Read(ref _recovered);

    internal void RecordRetry() => Interlocked.Increment(ref _retries);

    private long _hedges;

    /// <summary>Dispatches sent to a second replica because the first had not answered by the hedge time (<see cref="HedgeTimer"/>).</summary>
    public long Hedges => Interlocked.Read(ref _hedges);

    internal void RecordHedge() => Interlocked.Increment(ref _hedges);

    internal void RecordRecovered() => Interlocked.Increment(ref _recovered);
}

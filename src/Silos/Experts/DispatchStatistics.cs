namespace Llama4Cluster.Silos.Experts;

/// <summary>Dispatch counters of one dispatcher: calls and payload bytes each way (for benchmarks and logs).</summary>
public sealed class DispatchStatistics
{
    private long _calls;
    private long _bytesSent;
    private long _bytesReceived;

    public long Calls => Interlocked.Read(ref _calls);

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    internal void Record(long bytes)
    {
        Interlocked.Increment(ref _calls);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    internal void RecordResponse(long bytes) => Interlocked.Add(ref _bytesReceived, bytes);
}

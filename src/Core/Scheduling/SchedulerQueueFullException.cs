namespace Llama4Cluster.Core.Scheduling;

/// <summary>The waiting queue is at its bound; the client should retry after <see cref="RetryAfter"/>.</summary>
public sealed class SchedulerQueueFullException(int waiting, TimeSpan retryAfter)
    : Exception($"the server is at capacity: {waiting} requests are already waiting; retry after {retryAfter.TotalSeconds:0} s")
{
    public int Waiting { get; } = waiting;

    public TimeSpan RetryAfter { get; } = retryAfter;
}

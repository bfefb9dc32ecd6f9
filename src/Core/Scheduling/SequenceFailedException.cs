namespace Llama4Cluster.Core.Scheduling;

/// <summary>One sequence could not go on: its own sampling failed on its rank, or its rank failed more often than
/// <see cref="SchedulerOptions.MaxFailovers"/> allows. The message names the sequence and the cause.</summary>
public sealed class SequenceFailedException : Exception
{
    public SequenceFailedException(long sequenceId, string reason, Exception? inner = null)
        : base($"sequence {sequenceId} failed: {reason}", inner)
    {
        SequenceId = sequenceId;
    }

    public long SequenceId { get; }
}

using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>What <see cref="FakeScheduler"/> does for a sequence whose prompt contains the script's marker.</summary>
internal sealed record FakeScript
{
    /// <summary>The token ids to emit (given the submission, so that choices can differ by seed).</summary>
    public required Func<SequenceSubmission, IReadOnlyList<int>> Tokens { get; init; }

    /// <summary>How the sequence ends after its tokens (unless max tokens cut it first: then Length).</summary>
    public FakeEnd End { get; init; } = FakeEnd.Eos;

    /// <summary>The stop token reported by <see cref="FakeEnd.StopToken"/>.</summary>
    public int StopTokenId { get; init; }

    /// <summary>The error of <see cref="FakeEnd.Fail"/>.</summary>
    public Exception? Error { get; init; }

    /// <summary>When set, nothing is emitted until it completes (a long prefill).</summary>
    public TaskCompletionSource? Gate { get; init; }

    /// <summary>Emit tokens one at a time from a background task, checking for cancellation before each; otherwise
    /// every event is written before Submit returns (deterministic ordering).</summary>
    public bool Paced { get; init; }

    /// <summary>Submit throws <see cref="SchedulerQueueFullException"/>.</summary>
    public bool QueueFull { get; init; }
}

using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>A sequence <see cref="FakeScheduler"/> accepted: what was submitted, and whether it was cancelled.</summary>
internal sealed record FakeSequence(SequenceSubmission Submission, SequenceHandle Handle, string PromptText)
{
    /// <summary>Completes when <see cref="SequenceHandle.Cancel"/> is called.</summary>
    public TaskCompletionSource CancelObserved { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>What a sequence's handle reported: its emitted tokens and its one end event.</summary>
internal sealed record Outcome(IReadOnlyList<int> Tokens, IReadOnlyList<SampledToken> Details, SequenceEvent End)
{
    public FinishedEvent Finished => Assert.IsType<FinishedEvent>(End);

    public TException Failed<TException>()
        where TException : Exception => Assert.IsType<TException>(Assert.IsType<FailedEvent>(End).Error);

    public FinishReason Reason => Finished.Reason;
}

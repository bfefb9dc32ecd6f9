using Llama4Cluster.Core.Scheduling;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>
/// The hand-off from one pipeline stage of an attention rank to the next: one call per forward pass carries the pass's
/// sequences (their new tokens, as a step of their own) and the hidden states after this stage's layers; it answers with
/// what the stages after it produced — the last one samples. In one process the next stage is another
/// <see cref="AttentionRankCore"/> (<see cref="LocalStageLink"/>); in the cluster, the next stage's grain.
/// </summary>
public interface IRankStageLink
{
    /// <summary>
    /// Runs <paramref name="pass"/> on the next stage and those after it: <paramref name="hidden"/> is <c>[T, D]</c>, the pass's
    /// tokens in order (not disposed here); <paramref name="passIndex"/> is the pass within the engine step
    /// (<see cref="Model.Moe.DispatchContext.Pass"/>). A sequence's <see cref="SequenceWork.Start"/> is set in the first pass
    /// it appears in. When it throws, the later stages have dropped the pass's sequences.
    /// </summary>
    Task<RankStepResult> HandOffAsync(RankStep pass, int passIndex, torch.Tensor hidden, CancellationToken cancellationToken);

    /// <summary>Drops ended sequences on the later stages; unknown ids are ignored there.</summary>
    void Release(IReadOnlyList<long> sequenceIds);
}

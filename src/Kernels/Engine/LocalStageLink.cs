using Llama4Cluster.Core.Scheduling;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>The hand-off to a next stage in the same process: its <see cref="AttentionRankCore"/> takes the hidden states
/// as they are (moved to its device by its model). Counts the hand-offs.</summary>
public sealed class LocalStageLink(AttentionRankCore next) : IRankStageLink
{
    private long _handOffs;

    public AttentionRankCore Next { get; } = next ?? throw new ArgumentNullException(nameof(next));

    /// <summary>Passes handed to <see cref="Next"/> so far.</summary>
    public long HandOffs => Interlocked.Read(ref _handOffs);

    public Task<RankStepResult> HandOffAsync(RankStep pass, int passIndex, torch.Tensor hidden, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _handOffs);
        return Next.PassAsync(pass, passIndex, hidden, cancellationToken);
    }

    public void Release(IReadOnlyList<long> sequenceIds) => Next.Release(sequenceIds);
}

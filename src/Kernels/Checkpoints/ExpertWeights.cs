using TorchSharp;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// The routed experts of one MoE layer that a shard holds, in nn.Linear orientation (<c>y = x · Wᵀ</c>):
/// <see cref="GateUp"/> [n, 2F, D] with rows 0..F-1 the gate (Meta w1) and F..2F-1 the up projection (w3),
/// <see cref="Down"/> [n, D, F]. Index i of both belongs to expert <c>ExpertIds[i]</c>. Owns the tensors:
/// they are detached from any dispose scope and freed by <see cref="Dispose"/>.
/// </summary>
public sealed class ExpertWeights : IDisposable
{
    public ExpertWeights(IReadOnlyList<int> expertIds, torch.Tensor gateUp, torch.Tensor down)
    {
        ArgumentNullException.ThrowIfNull(expertIds);
        ArgumentNullException.ThrowIfNull(gateUp);
        ArgumentNullException.ThrowIfNull(down);
        if (gateUp.dim() != 3 || down.dim() != 3 || gateUp.shape[0] != expertIds.Count || down.shape[0] != expertIds.Count)
        {
            throw new ArgumentException(
                $"expected GateUp [n, 2F, D] and Down [n, D, F] with n = {expertIds.Count}; got {SafetensorsDTypes.FormatShape(gateUp.shape)} and {SafetensorsDTypes.FormatShape(down.shape)}");
        }
        ExpertIds = expertIds.ToArray();
        GateUp = gateUp.DetachFromDisposeScope();
        Down = down.DetachFromDisposeScope();
    }

    public IReadOnlyList<int> ExpertIds { get; }

    /// <summary>[n, 2F, D]: gate rows first, then up rows.</summary>
    public torch.Tensor GateUp { get; }

    /// <summary>[n, D, F].</summary>
    public torch.Tensor Down { get; }

    /// <summary>F, the expert width.</summary>
    public long IntermediateSize => Down.shape[2];

    public void Dispose()
    {
        GateUp.Dispose();
        Down.Dispose();
    }
}

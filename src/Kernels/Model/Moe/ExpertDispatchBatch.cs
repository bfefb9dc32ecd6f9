using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// What a MoE layer sends to its experts: every (token, chosen expert) pair as one row of
/// already-scaled input <c>g·x</c> (the routing weight multiplies the expert INPUT, spec §2.6),
/// rows grouped by expert in ascending expert order. The token index of each row stays with the
/// sender for the combine; experts need only the rows. Owns its tensors.
/// </summary>
public sealed class ExpertDispatchBatch : IDisposable
{
    public ExpertDispatchBatch(torch.Tensor inputs, torch.Tensor tokenIndex, int[] expertIds, int[] counts)
    {
        Inputs = inputs;
        TokenIndex = tokenIndex;
        ExpertIds = expertIds;
        Counts = counts;
    }

    /// <summary><c>[P, D]</c> scaled inputs, grouped by expert.</summary>
    public torch.Tensor Inputs { get; }

    /// <summary>int64 <c>[P]</c>: the token each row belongs to.</summary>
    public torch.Tensor TokenIndex { get; }

    /// <summary>Distinct experts with rows, ascending.</summary>
    public int[] ExpertIds { get; }

    /// <summary>Rows per entry of <see cref="ExpertIds"/>.</summary>
    public int[] Counts { get; }

    public int Rows => (int)Inputs.shape[0];

    public void Dispose()
    {
        Inputs.Dispose();
        TokenIndex.Dispose();
    }
}

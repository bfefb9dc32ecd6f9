using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// Causal masks with absolute positions (spec §2.3 step 6). RoPE layers are chunked: a key j is
/// visible to a query p iff <c>j ≤ p</c> and <c>floor(j/C) == floor(p/C)</c> — chunks aligned to
/// absolute position 0, not a sliding window. NoPE layers are global: <c>j ≤ p</c>.
/// </summary>
public static class AttentionMask
{
    public static bool Allowed(long query, long key, int? chunk) =>
        key <= query && (chunk is not { } c || key / c == query / c);

    /// <summary>Additive mask <c>[n, m]</c> (0 or −inf) in <paramref name="dtype"/> for queries at
    /// <c>q0 … q0+n−1</c> and keys at <c>k0 … k0+m−1</c>.</summary>
    public static Tensor Additive(long q0, long n, long k0, long m, int? chunk, ScalarType dtype, Device device)
    {
        using var scope = NewDisposeScope();
        var q = ScalarOps.Arange(q0, q0 + n, ScalarType.Int64, device).unsqueeze(1);
        var k = ScalarOps.Arange(k0, k0 + m, ScalarType.Int64, device).unsqueeze(0);
        var allowed = k.le(q);
        if (chunk is { } c)
            allowed = allowed.logical_and_(k.FloorDiv(c).eq(q.FloorDiv(c)));
        var zeros = torch.zeros(n, m, dtype: dtype, device: device);
        return zeros.MaskedFillInPlace(allowed.logical_not(), double.NegativeInfinity).MoveToOuterDisposeScope();
    }
}

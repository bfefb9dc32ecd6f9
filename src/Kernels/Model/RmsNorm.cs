using Llama4Cluster.Kernels.Cpu;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>RMS normalisation (spec §2.2), with the reference cast order.</summary>
public static class RmsNorm
{
    /// <summary>
    /// <c>bf16(x32 · rsqrt(mean(x32²) + eps)) · w</c>: statistics in fp32 over the last dim, the
    /// normalised value cast back to the activation dtype BEFORE the weight multiply (HF
    /// Llama4TextRMSNorm, Meta RMSNorm). x <c>[..., D]</c>, weight <c>[D]</c> in x's dtype. Contiguous bf16 on the CPU
    /// goes to <see cref="Bf16RowKernels.RmsNorm"/> (one pass instead of eight libtorch ops).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor weight, double eps)
    {
        if (Bf16RowKernels.RmsNorm(x, weight, eps) is { } fused) return fused;
        using var scope = NewDisposeScope();
        var normalized = Normalize(x, eps);
        return normalized.mul_(weight).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The weightless RMS norm used as QK norm on RoPE layers (HF <c>Llama4TextL2Norm</c>: mean,
    /// not sum, despite the name): <c>x32 · rsqrt(mean(x32²) + eps)</c>, cast back to x's dtype.
    /// </summary>
    public static Tensor Normalize(Tensor x, double eps)
    {
        if (Bf16RowKernels.RmsNorm(x, null, eps) is { } fused) return fused;
        using var scope = NewDisposeScope();
        var x32 = x.to_type(ScalarType.Float32);
        var inv = x32.mul(x32).mean([-1L], keepdim: true).AddInPlace(eps).rsqrt_(); // x·x, not square(): that is pow(2) with a finalizable Scalar
        return x32.mul(inv).to_type(x.dtype).MoveToOuterDisposeScope();
    }
}

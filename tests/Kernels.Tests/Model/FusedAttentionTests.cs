using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Model;

/// <summary>
/// Prefill attention through libtorch's fused scaled-dot-product attention equals the bmm/mask/softmax path: causal
/// (a fresh prompt), a later pass of a chunked prefill (queries after keys already cached), a chunked RoPE layer whose
/// block crosses a chunk boundary, and grouped query heads; fp32 tightly, bf16 within bf16 rounding.
/// </summary>
public sealed class FusedAttentionTests
{
    [Theory]
    [InlineData(37, 0, 0, null)]      // fresh prompt: the causal flag
    [InlineData(9, 40, 0, null)]      // a later pass: queries 40..48 over keys 0..48
    [InlineData(20, 10, 10, 16)]      // chunk 16: queries 10..29 over keys 10..29 cross the boundary at 16
    [InlineData(12, 30, 16, 16)]      // chunk 16, keys from the chunk start, queries 30..41 cross 32
    public void FusedEqualsTheMaterializedPath(int n, int q0, int k0, int? chunk)
    {
        using var scope = torch.NewDisposeScope();
        torch.manual_seed(n + q0 + k0);
        int heads = 6, kvHeads = 2, hd = 32, m = q0 + n - k0;
        double scale = 1 / Math.Sqrt(hd);
        var q = torch.randn(n, heads, hd);
        // Keys and values as the cache hands them out: head-major storage viewed as [m, KV, hd].
        var k = torch.randn(kvHeads, m, hd).permute(1, 0, 2);
        var v = torch.randn(kvHeads, m, hd).permute(1, 0, 2);

        var reference = AttentionCore.AttendTorch(q, k, v, q0, k0, chunk, scale);
        var fused = AttentionCore.AttendFused(q, k, v, q0, k0, chunk, scale);
        Assert.Equal(reference.shape, fused.shape);
        Assert.True(fused.allclose(reference, rtol: 1e-4, atol: 1e-5), $"fp32: max diff {(fused - reference).abs().max().item<float>()}");

        var qb = q.to(torch.bfloat16);
        var kb = k.to(torch.bfloat16);
        var vb = v.to(torch.bfloat16);
        var referenceB = AttentionCore.AttendTorch(qb, kb, vb, q0, k0, chunk, scale).to(torch.float32);
        var fusedB = AttentionCore.AttendFused(qb, kb, vb, q0, k0, chunk, scale).to(torch.float32);
        Assert.True(fusedB.allclose(referenceB, rtol: 3e-2, atol: 3e-2), $"bf16: max diff {(fusedB - referenceB).abs().max().item<float>()}");

        // The one-pass scale/mask/softmax between libtorch's bf16 GEMMs: the reference path's bf16 arithmetic, only its exp
        // and summation order its own, so the probabilities differ by at most a bf16 rounding here and there.
        if (AttentionCore.CanMaterialize(qb, kb, vb))
        {
            var materialized = AttentionCore.AttendMaterialized(qb, kb, vb, q0, k0, chunk, scale).to(torch.float32);
            Assert.Equal(referenceB.shape, materialized.shape);
            Assert.True(materialized.allclose(referenceB, rtol: 1e-2, atol: 1e-2), $"materialized bf16: max diff {(materialized - referenceB).abs().max().item<float>()}");
        }

        // The bf16 CPU policy routes prefill blocks to the materialized path where it can, else to the fused one; the
        // fp32 policy keeps libtorch's materialized path.
        var routed = AttentionCore.CanMaterialize(qb, kb, vb)
            ? AttentionCore.AttendMaterialized(qb, kb, vb, q0, k0, chunk, scale)
            : AttentionCore.AttendFused(qb, kb, vb, q0, k0, chunk, scale);
        Assert.True(AttentionCore.Attend(qb, kb, vb, q0, k0, chunk, scale, KernelPolicy.CpuBf16).equal(routed).all().item<bool>());
        Assert.False(KernelPolicy.Cpu.FusedPrefillAttention);
        Assert.False(KernelPolicy.CpuBf16Invariant.FusedPrefillAttention);
    }

    [Fact]
    public void OnlyScoreMatricesWithinTheLimitAreMaterialized()
    {
        using var scope = torch.NewDisposeScope();
        // 1024 queries × 32 heads × m keys against the 2^25-score limit (one element per head keeps the tensors small).
        var q = torch.zeros(1024, 32, 1, dtype: torch.bfloat16);
        var within = torch.zeros(1024, 8, 1, dtype: torch.bfloat16);
        var beyond = torch.zeros(1025, 8, 1, dtype: torch.bfloat16);
        Assert.Equal(Llama4Cluster.Kernels.Cpu.Bf16PrefillSoftmax.IsSupported, AttentionCore.CanMaterialize(q, within, within));
        Assert.False(AttentionCore.CanMaterialize(q, beyond, beyond));
        Assert.False(AttentionCore.CanMaterialize(q.to(torch.float32), within.to(torch.float32), within.to(torch.float32)));
    }

    [Fact]
    public void AnotherScaleIsRefused()
    {
        using var scope = torch.NewDisposeScope();
        var q = torch.randn(4, 2, 16);
        var k = torch.randn(4, 1, 16);
        Assert.Throws<ArgumentException>(() => AttentionCore.AttendFused(q, k, k, 0, 0, null, 0.5));
    }
}

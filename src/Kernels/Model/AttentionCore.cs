using Llama4Cluster.Kernels.Cpu;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// Scores, mask, softmax and weighted sum for one sequence (spec §2.3 steps 5–7), GQA without
/// materialising repeated keys: the G query heads that share a kv head are stacked into one batch
/// row of a bmm. One decode token that sees its whole cache goes to <see cref="Bf16DecodeAttention"/>,
/// which streams the cache near memory bandwidth (libtorch's bmm for one query row does not).
/// </summary>
public static class AttentionCore
{
    /// <summary>
    /// q <c>[n, H, hd]</c> at absolute positions <c>q0…</c>; keys/values <c>[m, KV, hd]</c> at <c>k0…</c>
    /// (the last key is the last query's own). Returns <c>[n, H·hd]</c> in q's dtype; softmax in fp32.
    /// </summary>
    public static Tensor Attend(Tensor q, Tensor keys, Tensor values, long q0, long k0, int? chunk, double scale, KernelPolicy kernels)
    {
        long n = q.shape[0], m = keys.shape[0];
        if (kernels.BatchInvariant && Bf16DecodeAttention.CanUse(q.narrow(0, 0, 1), keys, values))
            return AttendRowByRow(q, keys, values, q0, k0, chunk, scale);
        bool masked = n > 1 || k0 + m - 1 != q0 || (chunk is { } c && k0 / c != q0 / c);
        if (kernels.StreamsDecodeAttention(masked) && Bf16DecodeAttention.CanUse(q, keys, values))
        {
            return Bf16DecodeAttention.Attend(q, keys, values, scale);
        }

        if (kernels.FusedPrefillAttention && n > 1)
        {
            return CanMaterialize(q, keys, values)
                ? AttendMaterialized(q, keys, values, q0, k0, chunk, scale)
                : AttendFused(q, keys, values, q0, k0, chunk, scale);
        }

        return AttendTorch(q, keys, values, q0, k0, chunk, scale);
    }

    /// <summary>
    /// <see cref="Attend"/> through libtorch's scaled-dot-product attention: one op, where <see cref="AttendTorch"/>'s bmm,
    /// mask, fp32 softmax and bmm each write a whole score matrix (bench-0.8b, 512-token prefill: 20 ms a layer against
    /// 72, most of which went to converting and soft-maxing the scores). The scale is libtorch's default, <c>1/√hd</c>,
    /// which is this model's; a query block whose mask is plain causal (the usual prefill: the queries are the last keys,
    /// one chunk) takes the causal flag, any other gets the additive mask.
    /// </summary>
    public static Tensor AttendFused(Tensor q, Tensor keys, Tensor values, long q0, long k0, int? chunk, double scale)
    {
        using var scope = NewDisposeScope();
        long n = q.shape[0], heads = q.shape[1], hd = q.shape[2], m = keys.shape[0], kvHeads = keys.shape[1];
        if (Math.Abs(scale * Math.Sqrt(hd) - 1) > 1e-12)
            throw new ArgumentException($"fused attention uses the 1/sqrt(head_dim) scale; got {scale} for head_dim {hd}", nameof(scale));
        long g = heads / kvHeads;
        // [n, H, hd] -> [1, H, n, hd]; keys and values [m, KV, hd] -> [1, H, m, hd], head h reading kv head h / G.
        var qh = q.permute(1, 0, 2).unsqueeze(0);
        Tensor Heads(Tensor kv) => kv.permute(1, 0, 2).unsqueeze(1).expand(kvHeads, g, m, hd).reshape(1, heads, m, hd);
        bool causal = n == m && k0 == q0 && (chunk is not { } c || q0 / c == (q0 + n - 1) / c);
        using var mask = causal ? null : AttentionMask.Additive(q0, n, k0, m, chunk, q.dtype, q.device);
        var o = nn.functional.scaled_dot_product_attention(qh, Heads(keys), Heads(values), mask, 0.0, causal);
        return o.squeeze(0).permute(1, 0, 2).reshape(n, heads * hd).MoveToOuterDisposeScope();
    }

    /// <summary>Most scores (heads × queries × keys) <see cref="AttendMaterialized"/> holds at once: 64 MB of bf16.</summary>
    public const long MaterializedScoreLimit = 1L << 25;

    /// <summary>Whether <see cref="AttendMaterialized"/> takes these operands: bf16 on the CPU, an AVX-512 CPU, and a
    /// score matrix within <see cref="MaterializedScoreLimit"/> (longer blocks take libtorch's fused attention).</summary>
    public static bool CanMaterialize(Tensor q, Tensor keys, Tensor values) =>
        Bf16PrefillSoftmax.IsSupported
        && q.device_type == DeviceType.CPU && q.dtype == ScalarType.BFloat16
        && keys.dtype == ScalarType.BFloat16 && values.dtype == ScalarType.BFloat16
        && q.shape[0] * q.shape[1] * keys.shape[0] <= MaterializedScoreLimit;

    /// <summary>
    /// <see cref="AttendTorch"/>'s arithmetic (bf16 scores, scale, mask, fp32 softmax, bf16 probabilities) with the two
    /// matrix products as libtorch bf16 GEMMs and everything between them one pass of <see cref="Bf16PrefillSoftmax"/>
    /// in place (bench-0.8b, 512-token prefill: faster than libtorch's fused attention, whose block products go through
    /// an emulated bf16 GEMM on AMD processors; see docs/PERFORMANCE.md).
    /// </summary>
    public static unsafe Tensor AttendMaterialized(Tensor q, Tensor keys, Tensor values, long q0, long k0, int? chunk, double scale)
    {
        using var scope = NewDisposeScope();
        long n = q.shape[0], heads = q.shape[1], hd = q.shape[2], m = keys.shape[0], kvHeads = keys.shape[1];
        long g = heads / kvHeads;
        // [n, H, hd] -> [KV, G·n, hd]: head h = kv·G + j reads kv head h / G; score row r is query r mod n.
        var qh = q.permute(1, 0, 2).reshape(kvHeads, g * n, hd);
        var scores = torch.bmm(qh, keys.permute(1, 2, 0)).contiguous();
        Bf16PrefillSoftmax.Run((ushort*)TensorData.Pointer(scores), checked((int)(kvHeads * g * n)), checked((int)n), checked((int)m),
            q0, k0, chunk, (float)scale, CpuWorkerPool.Shared);
        GC.KeepAlive(scores);
        var o = torch.bmm(scores, values.permute(1, 0, 2));
        return o.view(heads, n, hd).permute(1, 0, 2).reshape(n, heads * hd).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Each query row through the decode kernel over exactly the keys it sees (from its chunk's start, or the first key
    /// held, up to its own position), so a row's result is the same whether it is decoded alone or is one row of a prefill.
    /// </summary>
    private static Tensor AttendRowByRow(Tensor q, Tensor keys, Tensor values, long q0, long k0, int? chunk, double scale)
    {
        using var scope = NewDisposeScope();
        long n = q.shape[0];
        var rows = new Tensor[n];
        for (long i = 0; i < n; i++)
        {
            long position = q0 + i;
            long first = Math.Max(k0, chunk is { } c ? position / c * c : k0);
            var k = keys.narrow(0, first - k0, position - first + 1);
            var v = values.narrow(0, first - k0, position - first + 1);
            rows[i] = Bf16DecodeAttention.Attend(q.narrow(0, i, 1), k, v, scale, threadIndependent: true);
        }
        return (n == 1 ? rows[0] : torch.cat(rows, 0)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Attend"/> through libtorch only (bmm, additive mask, softmax): the path for
    /// prefill and the reference the CPU decode kernel is tested against.
    /// </summary>
    public static Tensor AttendTorch(Tensor q, Tensor keys, Tensor values, long q0, long k0, int? chunk, double scale)
    {
        using var scope = NewDisposeScope();
        long n = q.shape[0], heads = q.shape[1], hd = q.shape[2], m = keys.shape[0], kvHeads = keys.shape[1];
        long g = heads / kvHeads;
        // [n, H, hd] -> [H, n, hd] -> [KV, G·n, hd]: head h = kv·G + j reads kv head h / G.
        var qh = q.permute(1, 0, 2).reshape(kvHeads, g * n, hd);
        var kh = keys.permute(1, 0, 2);
        var vh = values.permute(1, 0, 2);
        var scores = torch.bmm(qh, kh.transpose(1, 2)).MulInPlace(scale);
        // One decode token against a cache trimmed to its chunk sees every entry: no mask needed.
        if (n > 1 || k0 + m - 1 != q0 || (chunk is { } c && k0 / c != q0 / c))
        {
            var mask = AttentionMask.Additive(q0, n, k0, m, chunk, scores.dtype, scores.device);
            scores = scores.view(kvHeads, g, n, m).AddInPlace(mask).view(kvHeads, g * n, m);
        }
        var probs = scores.softmax(-1, ScalarType.Float32).to_type(q.dtype);
        var o = torch.bmm(probs, vh);
        return o.view(heads, n, hd).permute(1, 0, 2).reshape(n, heads * hd).MoveToOuterDisposeScope();
    }
}

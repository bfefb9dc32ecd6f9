using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// Decode attention on the CPU (spec §2.3 steps 5–7 for one query token, no mask): for query
/// head h, reading kv head h / G (G = H / KV), <c>s_j = (q_h·k_j)·scale</c>, <c>p = softmax(s)</c> in
/// fp32, <c>o_h = Σ_j p_j v_j</c>. q fp32 <c>[H, hd]</c>; keys and values bf16 or fp32
/// <c>[m, KV, hd]</c>, row-major (the span and pointer forms) or any view of that shape whose head-dim elements are
/// contiguous (the tensor form: a head-major cache's <c>[KV, capacity, hd]</c> storage seen as <c>[m, KV, hd]</c> reads
/// each kv head's keys as one sequential stream); output fp32 <c>[H·hd]</c>.
/// </summary>
/// <remarks>
/// One decode token reads the whole KV cache and does 4 FLOPs per element read, so the call is
/// bound by memory bandwidth (libtorch's bf16 bmm for one query row reaches ~0.01 of it). The
/// kernel reads every key and value once per call for all G heads that share it
/// (<see cref="DecodeAttentionBlock"/>), splits the keys of each kv head into blocks so both
/// threads stay busy with few kv heads, and merges the blocks' softmax exactly: each block keeps
/// its max M_b, Σ_b = Σ exp(s - M_b) and O_b = Σ exp(s - M_b)·v, and
/// <c>o = Σ_b e^(M_b - M)·O_b / Σ_b e^(M_b - M)·Σ_b</c> with M the global max.
/// </remarks>
public static unsafe class Bf16DecodeAttention
{
    /// <summary>Most keys per block: 512 rows of 128 bf16 keep a block's values (128 KiB) in L2 and its scores
    /// (8 heads × 512 floats) in L1. Longer blocks restart each kv head's key and value streams less often and leave fewer
    /// partials to merge: on the head-major cache at 8k context, 512 read ~10 % faster than 256 (alternating runs, 2 threads).</summary>
    internal const int MaxBlockKeys = 512;

    /// <summary>Keys per block of <see cref="FixedPlan"/>.</summary>
    internal const int FixedBlockKeys = 64;

    /// <summary>Most key and value bytes a call reads on the calling thread alone: handing a job to the pool costs more
    /// than a second thread saves below ~128 keys of 8 kv heads of 128 (measured back to back, workers spinning; in a
    /// decode step the workers are often asleep by the attention call, and waking one costs more still).</summary>
    internal const long InlineBytes = 512 * 1024;

    /// <summary>Fewest keys per block when blocks are split further to feed the threads.</summary>
    private const int MinBlockKeys = 16;

    /// <summary>bf16 keys/values (bits), see the class summary for shapes; <paramref name="output"/> is overwritten.</summary>
    public static void Attend(
        ReadOnlySpan<float> q, ReadOnlySpan<ushort> keys, ReadOnlySpan<ushort> values, Span<float> output,
        int heads, int kvHeads, int headDim, int keyCount, double scale, CpuWorkerPool? pool = null)
    {
        CheckSpans(q.Length, keys.Length, values.Length, output.Length, heads, kvHeads, headDim, keyCount);
        fixed (float* pq = q)
        fixed (ushort* pk = keys)
        fixed (ushort* pv = values)
        fixed (float* po = output)
        {
            Attend(pq, pk, pv, po, heads, kvHeads, headDim, keyCount, scale, pool);
        }
    }

    /// <summary>fp32 keys/values, see the class summary for shapes; <paramref name="output"/> is overwritten.</summary>
    public static void Attend(
        ReadOnlySpan<float> q, ReadOnlySpan<float> keys, ReadOnlySpan<float> values, Span<float> output,
        int heads, int kvHeads, int headDim, int keyCount, double scale, CpuWorkerPool? pool = null)
    {
        CheckSpans(q.Length, keys.Length, values.Length, output.Length, heads, kvHeads, headDim, keyCount);
        fixed (float* pq = q)
        fixed (float* pk = keys)
        fixed (float* pv = values)
        fixed (float* po = output)
        {
            Attend(pq, pk, pv, po, heads, kvHeads, headDim, keyCount, scale, pool);
        }
    }

    /// <summary>Pointer form for bf16 keys/values; the memory must stay valid (pinned) during the call.</summary>
    public static void Attend(float* q, ushort* keys, ushort* values, float* output,
        int heads, int kvHeads, int headDim, int keyCount, double scale, CpuWorkerPool? pool = null) =>
        Run(q, keys, values, bf16: true, output, heads, kvHeads, headDim, keyCount, (long)kvHeads * headDim, headDim, scale, pool);

    /// <summary>Pointer form for fp32 keys/values; the memory must stay valid (pinned) during the call.</summary>
    public static void Attend(float* q, float* keys, float* values, float* output,
        int heads, int kvHeads, int headDim, int keyCount, double scale, CpuWorkerPool? pool = null) =>
        Run(q, keys, values, bf16: false, output, heads, kvHeads, headDim, keyCount, (long)kvHeads * headDim, headDim, scale, pool);

    /// <summary>
    /// Whether <see cref="Attend(torch.Tensor, torch.Tensor, torch.Tensor, double, CpuWorkerPool?)"/>
    /// can run: everything on the CPU, q <c>[1, H, hd]</c> fp32 or bf16, keys and values <c>[m, KV, hd]</c> of one dtype,
    /// bf16 or fp32, with the same strides and each head's hd elements contiguous (a contiguous tensor, or a view of a
    /// head-major cache), H a multiple of KV, no gradient wanted.
    /// </summary>
    public static bool CanUse(torch.Tensor q, torch.Tensor keys, torch.Tensor values)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        return TryShape(q, keys, values, out _, out _, out _, out _, out _, out _);
    }

    /// <summary><see cref="CanUse"/> and the shape, asking libtorch for each property once (every
    /// <c>shape</c> or <c>dtype</c> is a native call; a decode step at short context is tens of µs).</summary>
    private static bool TryShape(torch.Tensor q, torch.Tensor keys, torch.Tensor values,
        out int heads, out int headDim, out int keyCount, out int kvHeads, out long rowStride, out long headStride)
    {
        heads = headDim = keyCount = kvHeads = 0;
        rowStride = headStride = 0;
        if (q.device_type != DeviceType.CPU || keys.device_type != DeviceType.CPU || values.device_type != DeviceType.CPU)
        {
            return false;
        }

        long[] qs = q.shape, ks = keys.shape, vs = values.shape;
        if (qs.Length != 3 || ks.Length != 3 || vs.Length != 3 || qs[0] != 1
            || ks[0] != vs[0] || ks[1] != vs[1] || ks[2] != vs[2])
        {
            return false;
        }

        var qd = q.dtype;
        var kd = keys.dtype;
        if ((qd != torch.float32 && qd != torch.bfloat16) || (kd != torch.float32 && kd != torch.bfloat16) || values.dtype != kd)
        {
            return false;
        }

        long[] kst = keys.stride(), vst = values.stride();
        if (kst[2] != 1 || vst[0] != kst[0] || vst[1] != kst[1] || vst[2] != 1 || kst[0] < 1 || kst[1] < 1)
        {
            return false;
        }

        if (torch.is_grad_enabled() && (q.requires_grad || keys.requires_grad || values.requires_grad))
        {
            return false;
        }

        long h = qs[1], hd = qs[2], m = ks[0], kv = ks[1];
        if (!(kv > 0 && h % kv == 0 && ks[2] == hd && hd > 0 && h * hd <= int.MaxValue && m * kv * hd <= int.MaxValue))
        {
            return false;
        }

        (heads, headDim, keyCount, kvHeads, rowStride, headStride) = ((int)h, (int)hd, (int)m, (int)kv, kst[0], kst[1]);
        return true;
    }

    /// <summary>
    /// q <c>[1, H, hd]</c>, keys/values <c>[m, KV, hd]</c> (see <see cref="CanUse"/>); returns
    /// <c>[1, H·hd]</c> in q's dtype.
    /// </summary>
    /// <param name="threadIndependent">Cut the keys into blocks of <see cref="FixedBlockKeys"/> whatever the thread count,
    /// so the result does not depend on how many threads the process runs (batch-invariant mode: a sequence may be
    /// re-prefilled on another silo).</param>
    public static torch.Tensor Attend(torch.Tensor q, torch.Tensor keys, torch.Tensor values, double scale, CpuWorkerPool? pool = null,
        bool threadIndependent = false)
    {
        ArgumentNullException.ThrowIfNull(q);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(values);
        if (!TryShape(q, keys, values, out int heads, out int hd, out int m, out int kv, out long rowStride, out long headStride))
        {
            throw new ArgumentException(
                "Bf16DecodeAttention needs CPU tensors q [1, H, hd] (fp32/bf16) and keys/values [m, KV, hd] of one dtype " +
                "(bf16/fp32) and strides, hd contiguous, with H a multiple of KV; check CanUse first and use the torch path otherwise.");
        }

        using var scope = torch.NewDisposeScope();
        var qDtype = q.dtype;
        bool bf16 = keys.dtype == torch.bfloat16;
        var qf = q.to_type(torch.float32).contiguous();
        var o = torch.empty([1, (long)heads * hd], dtype: torch.float32, device: torch.CPU);
        Run((float*)TensorData.Pointer(qf), (void*)TensorData.Pointer(keys), (void*)TensorData.Pointer(values),
            bf16, (float*)TensorData.Pointer(o), heads, kv, hd, m, rowStride, headStride, scale, pool, threadIndependent);
        // The kernel read raw pointers: keep the tensors (and their storage) alive until here.
        GC.KeepAlive(qf);
        GC.KeepAlive(keys);
        GC.KeepAlive(values);
        return (qDtype == torch.float32 ? o : o.to_type(qDtype)).MoveToOuterDisposeScope();
    }

    private static void CheckShape(int heads, int kvHeads, int headDim, int keyCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(kvHeads, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(headDim, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(keyCount);
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, kvHeads);
        if (heads % kvHeads != 0)
        {
            throw new ArgumentException($"heads ({heads}) must be a multiple of kvHeads ({kvHeads}).", nameof(heads));
        }
    }

    private static void CheckSpans(long q, long keys, long values, long output, int heads, int kvHeads, int headDim, int keyCount)
    {
        CheckShape(heads, kvHeads, headDim, keyCount);
        long qn = (long)heads * headDim, kvn = (long)keyCount * kvHeads * headDim;
        if (q < qn || keys < kvn || values < kvn || output < qn)
        {
            throw new ArgumentException(
                $"Spans too short for q [{heads}, {headDim}], keys/values [{keyCount}, {kvHeads}, {headDim}], output [{qn}].");
        }
    }

    /// <param name="rowStride">Elements from key j to key j + 1 of one kv head.</param>
    /// <param name="headStride">Elements from kv head c to c + 1 of one key.</param>
    private static void Run(float* q, void* keys, void* values, bool bf16, float* output,
        int heads, int kvHeads, int headDim, int keyCount, long rowStride, long headStride, double scale, CpuWorkerPool? pool,
        bool threadIndependent = false)
    {
        CheckShape(heads, kvHeads, headDim, keyCount);
        long outCount = (long)heads * headDim;
        if (keyCount == 0)
        {
            // Softmax over no keys: nothing to sum, as torch's empty bmm gives.
            new Span<float>(output, checked((int)outCount)).Clear();
            return;
        }

        pool ??= CpuWorkerPool.Shared;
        int elementSize = bf16 ? sizeof(ushort) : sizeof(float);
        int group = heads / kvHeads;
        var (blockKeys, blocks) = threadIndependent ? FixedPlan(keyCount) : Plan(keyCount, kvHeads, pool.ThreadCount);
        int units = blocks * kvHeads;
        int partialStride = Pad16(headDim) + 16;
        // Per worker: 8 score rows of a block, then the 8 × 16 × 16 lane buffer of the key pass.
        int scoreStride = 8 * blockKeys + 8 * 256;
        long qFloats = Pad16(outCount);
        long partialFloats = (long)units * group * partialStride;
        float* scratch = KernelScratch.Floats(qFloats + partialFloats + (long)pool.ThreadCount * scoreStride);

        // Scaled q; the AVX-512 bf16 kernel reads it in the lane order its widening produces.
        var isa = Bf16MatMul.Isa;
        DecodeAttentionBlock.PermuteQ(q, scratch, heads, headDim, (float)scale, interleave: bf16 && isa == Bf16Isa.Avx512);

        var job = new DecodeAttentionJob
        {
            Q = scratch,
            Keys = keys,
            Values = values,
            RowStride = rowStride * elementSize,
            HeadStride = headStride * elementSize,
            Partials = scratch + qFloats,
            Scores = scratch + qFloats + partialFloats,
            Heads = heads,
            KvHeads = kvHeads,
            Group = group,
            HeadDim = headDim,
            KeyCount = keyCount,
            BlockKeys = blockKeys,
            Blocks = blocks,
            Units = units,
            PartialStride = partialStride,
            ScoreStride = scoreStride,
            Bf16 = bf16,
            Isa = isa,
        };
        if (units == 1 || 2L * keyCount * kvHeads * headDim * elementSize <= InlineBytes)
        {
            // Same units and the same merge as on the pool: the result does not depend on where they ran.
            for (int unit = 0; unit < units; unit++)
            {
                DecodeAttentionBlock.Run(&job, unit, job.Scores);
            }
        }
        else
        {
            pool.Run(&DecodeAttentionBlock.Body, &job);
        }

        Merge(&job, output);
    }

    /// <summary>
    /// Keys per block and block count: blocks of at most <see cref="MaxBlockKeys"/>, split further
    /// (down to <see cref="MinBlockKeys"/>) until there are ~4 units per thread; a multiple of 16 keys
    /// per block so the vector softmax needs no tail except in the last block.
    /// </summary>
    internal static (int BlockKeys, int Blocks) Plan(int keyCount, int kvHeads, int threads)
    {
        int blocks = (keyCount + MaxBlockKeys - 1) / MaxBlockKeys;
        int wanted = (4 * threads + kvHeads - 1) / kvHeads;
        if (blocks < wanted)
        {
            blocks = Math.Min(wanted, (keyCount + MinBlockKeys - 1) / MinBlockKeys);
        }

        blocks = Math.Max(1, blocks);
        int blockKeys = Pad16((keyCount + blocks - 1) / blocks);
        return (blockKeys, (keyCount + blockKeys - 1) / blockKeys);
    }

    /// <summary>Blocks of <see cref="FixedBlockKeys"/> keys (the last one shorter): a plan that depends on the key count alone.</summary>
    internal static (int BlockKeys, int Blocks) FixedPlan(int keyCount) => (FixedBlockKeys, (keyCount + FixedBlockKeys - 1) / FixedBlockKeys);

    /// <summary>Combines the blocks' (max, Σ, O) of every head into the normalized output.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Merge(DecodeAttentionJob* job, float* output)
    {
        int hd = job->HeadDim, ps = job->PartialStride, group = job->Group;
        int full = Vector512.IsHardwareAccelerated && job->Isa == Bf16Isa.Avx512 ? hd & ~15 : 0;
        for (int h = 0; h < job->Heads; h++)
        {
            int c = h / group, g = h % group;
            long blockStride = (long)job->KvHeads * group * ps; // from block b to block b + 1
            float* first = job->Partials + ((long)c * group + g) * ps;
            float max = float.NegativeInfinity;
            for (int b = 0; b < job->Blocks; b++)
            {
                max = MathF.Max(max, first[b * blockStride + ps - 16]);
            }

            float* o = output + (long)h * hd;
            float total = 0;
            for (int b = 0; b < job->Blocks; b++)
            {
                float* part = first + b * blockStride;
                float w = MathF.Exp(part[ps - 16] - max);
                total += w * part[ps - 15];
                var wv = Vector512.Create(w);
                if (b == 0)
                {
                    for (int i = 0; i < full; i += 16)
                    {
                        (Vector512.Load(part + i) * wv).Store(o + i);
                    }

                    for (int i = full; i < hd; i++)
                    {
                        o[i] = part[i] * w;
                    }
                }
                else
                {
                    for (int i = 0; i < full; i += 16)
                    {
                        Vector512.FusedMultiplyAdd(Vector512.Load(part + i), wv, Vector512.Load(o + i)).Store(o + i);
                    }

                    for (int i = full; i < hd; i++)
                    {
                        o[i] += part[i] * w;
                    }
                }
            }

            float inv = 1 / total;
            for (int i = 0; i < hd; i++)
            {
                o[i] *= inv;
            }
        }
    }

    private static int Pad16(int n) => (n + 15) & ~15;

    private static long Pad16(long n) => (n + 15) & ~15L;
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// The work of one <see cref="DecodeAttentionJob"/> unit: keys <c>[j0, j1)</c> of one kv head against
/// the G query heads that share it. Scores for up to 8 heads are computed together while a key row
/// is in registers, so every key and value byte is read from memory once per call; bf16 is widened
/// to fp32 in registers 32 columns per 64-byte load (shift / and: the bf16 bits are the high half of
/// an fp32; even and odd columns land in separate vectors, q is stored in that order) and everything
/// accumulates in fp32. The key pass prefetches key rows ahead and the value rows the value pass
/// reads next; the softmax exp is an fp32 polynomial (<see cref="DecodeAttentionExp"/>). The block's
/// softmax is kept unnormalized (max, Σ exp, Σ exp·v) for the merge in <see cref="Bf16DecodeAttention"/>.
/// </summary>
internal static unsafe class DecodeAttentionBlock
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Body(void* state, int worker)
    {
        var job = (DecodeAttentionJob*)state;
        float* scores = job->Scores + (long)worker * job->ScoreStride;
        while (true)
        {
            int unit = Interlocked.Increment(ref job->NextUnit) - 1;
            if (unit >= job->Units)
            {
                return;
            }

            Run(job, unit, scores);
        }
    }

    /// <summary>Runs one unit (also used directly when the call has a single unit).</summary>
    public static void Run(DecodeAttentionJob* job, int unit, float* scores)
    {
        int block = unit / job->KvHeads;
        int c = unit % job->KvHeads;
        int j0 = block * job->BlockKeys;
        int j1 = Math.Min(job->KeyCount, j0 + job->BlockKeys);
        for (int g0 = 0; g0 < job->Group; g0 += 8)
        {
            int count = Math.Min(8, job->Group - g0);
            if (job->Isa != Bf16Isa.Avx512)
            {
                if (job->Bf16)
                {
                    DecodeAttentionScalar.Run<DecodeAttentionBf16Kv>(job, c, g0, count, j0, j1, unit, scores);
                }
                else
                {
                    DecodeAttentionScalar.Run<DecodeAttentionF32Kv>(job, c, g0, count, j0, j1, unit, scores);
                }
            }
            else if (job->Bf16)
            {
                Tiles<DecodeAttentionBf16Kv>(job, c, g0, count, j0, j1, unit, scores);
            }
            else
            {
                Tiles<DecodeAttentionF32Kv>(job, c, g0, count, j0, j1, unit, scores);
            }
        }
    }

    private static void Tiles<TKv>(DecodeAttentionJob* job, int c, int g0, int count, int j0, int j1, int unit, float* scores)
        where TKv : struct, IDecodeAttentionKv
    {
        switch (count)
        {
            case 1: Avx512<TKv, DecodeAttentionHeads1>(job, c, g0, j0, j1, unit, scores); break;
            case 2: Avx512<TKv, DecodeAttentionHeads2>(job, c, g0, j0, j1, unit, scores); break;
            case 3: Avx512<TKv, DecodeAttentionHeads3>(job, c, g0, j0, j1, unit, scores); break;
            case 4: Avx512<TKv, DecodeAttentionHeads4>(job, c, g0, j0, j1, unit, scores); break;
            case 5: Avx512<TKv, DecodeAttentionHeads5>(job, c, g0, j0, j1, unit, scores); break;
            case 6: Avx512<TKv, DecodeAttentionHeads6>(job, c, g0, j0, j1, unit, scores); break;
            case 7: Avx512<TKv, DecodeAttentionHeads7>(job, c, g0, j0, j1, unit, scores); break;
            default: Avx512<TKv, DecodeAttentionHeads8>(job, c, g0, j0, j1, unit, scores); break;
        }
    }

    /// <summary>
    /// Query heads <c>c·G + g0 … + TG.Count - 1</c> against keys <c>[j0, j1)</c> of kv head c:
    /// scores (<see cref="DecodeAttentionKeyPass"/>), the block softmax in place, then the value sums
    /// (<see cref="DecodeAttentionValuePass"/>) into the unit's partials. scores holds TG.Count rows of
    /// <see cref="DecodeAttentionJob.BlockKeys"/> floats and the key pass's lane buffer.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512<TKv, TG>(DecodeAttentionJob* job, int c, int g0, int j0, int j1, int unit, float* scores)
        where TKv : struct, IDecodeAttentionKv
        where TG : struct, IDecodeAttentionHeadTile
    {
        DecodeAttentionKeyPass.Run<TKv, TG>(job, c, g0, j0, j1, scores);

        int hd = job->HeadDim, n = j1 - j0, bk = job->BlockKeys;

        // Block softmax, unnormalized: p = exp(s - max) in place; max and Σp go to the partial.
        float* part = job->Partials + ((long)unit * job->Group + g0) * job->PartialStride;
        int ps = job->PartialStride;
        for (int g = 0; g < TG.Count; g++)
        {
            float* s = scores + g * bk;
            float* pg = part + g * ps;
            (pg[ps - 16], pg[ps - 15]) = ExpBlock(s, n);
        }

        long rowBytes = job->RowStride;
        byte* vBase = (byte*)job->Values + j0 * rowBytes + c * job->HeadStride;
        DecodeAttentionValuePass.Run<TKv, TG>(vBase, rowBytes, hd, n, scores, bk, part, ps);
    }

    /// <summary>
    /// Writes <paramref name="src"/>·<paramref name="scale"/> (<paramref name="heads"/> rows of
    /// <paramref name="hd"/>) to <paramref name="dst"/>, each row's 32-column chunks in the lane order of
    /// the bf16 <see cref="IDecodeAttentionKv.Load32"/> (even columns, then odd) when <paramref name="interleave"/>;
    /// columns past the last full 32 stay in order.
    /// </summary>
    public static void PermuteQ(float* src, float* dst, int heads, int hd, float scale, bool interleave)
    {
        int full32 = interleave ? hd & ~31 : 0;
        for (int h = 0; h < heads; h++)
        {
            float* s = src + (long)h * hd, d = dst + (long)h * hd;
            for (int i = 0; i < full32; i += 32)
            {
                for (int t = 0; t < 16; t++)
                {
                    d[i + t] = s[i + 2 * t] * scale;
                    d[i + 16 + t] = s[i + 2 * t + 1] * scale;
                }
            }

            for (int i = full32; i < hd; i++)
            {
                d[i] = s[i] * scale;
            }
        }
    }

    /// <summary>s ← exp(s - max(s)) over n scores; returns (max, Σ).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static (float Max, float Sum) ExpBlock(float* s, int n)
    {
        int full = n & ~15;
        float max = float.NegativeInfinity;
        if (full > 0)
        {
            var mv = Vector512.Load(s);
            for (int j = 16; j < full; j += 16)
            {
                mv = Vector512.Max(mv, Vector512.Load(s + j));
            }

            for (int r = 0; r < 16; r++)
            {
                max = MathF.Max(max, mv.GetElement(r));
            }
        }

        for (int j = full; j < n; j++)
        {
            max = MathF.Max(max, s[j]);
        }

        var m = Vector512.Create(max);
        var sum = Vector512<float>.Zero;
        for (int j = 0; j < full; j += 16)
        {
            var e = DecodeAttentionExp.Exp(Vector512.Load(s + j) - m);
            e.Store(s + j);
            sum += e;
        }

        float total = Vector512.Sum(sum);
        for (int j = full; j < n; j++)
        {
            float e = MathF.Exp(s[j] - max);
            s[j] = e;
            total += e;
        }

        return (max, total);
    }
}

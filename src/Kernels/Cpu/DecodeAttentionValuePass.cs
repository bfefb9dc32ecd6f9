using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// The value pass of a <see cref="DecodeAttentionBlock"/>: <c>o_g += p_g[j]·v_j</c> for the block's
/// keys, where p holds the block's unnormalized softmax weights (TG.Count rows of
/// <see cref="DecodeAttentionJob.BlockKeys"/>) and o is each head's partial output row.
/// </summary>
internal static unsafe class DecodeAttentionValuePass
{
    /// <summary>Keys per pass of the value loop: 64 rows of 128 bf16 (16 KiB) stay in L1 while
    /// the loop walks their columns 16 at a time.</summary>
    private const int ValueSubBlock = 64;

    /// <summary>AVX-512: 32 columns at a time over sub-blocks of rows that stay in L1; the sums are put
    /// back in column order at the end (<see cref="IDecodeAttentionKv.Unpermute"/>), a last 16
    /// columns go 16 wide and any rest is scalar.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TKv, TG>(byte* vBase, long rowBytes, int hd, int n, float* scores, int bk, float* part, int ps)
        where TKv : struct, IDecodeAttentionKv
        where TG : struct, IDecodeAttentionHeadTile
    {
        int full32 = hd & ~31, full = hd & ~15;
        for (int sb = 0; sb < n; sb += ValueSubBlock)
        {
            int se = Math.Min(n, sb + ValueSubBlock);
            for (int i = 0; i < full32; i += 32)
            {
                Columns32<TKv, TG>(vBase, rowBytes, sb, se, i, scores, bk, part, ps);
            }

            if (full > full32)
            {
                Columns16<TKv, TG>(vBase, rowBytes, sb, se, full32, scores, bk, part, ps);
            }
        }

        for (int g = 0; g < TG.Count; g++)
        {
            for (int i = 0; i < full32; i += 32)
            {
                TKv.Unpermute(part + g * ps + i);
            }
        }

        if (full < hd)
        {
            ValueTail<TKv>(vBase, rowBytes, full, hd, n, TG.Count, scores, bk, part, ps);
        }
    }

    /// <summary>Columns <c>[i, i + 32)</c> for rows <c>[sb, se)</c>, in Load32's lane order; the first
    /// sub-block starts the sums, later ones add to them.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns32<TKv, TG>(byte* vBase, long rowBytes, int sb, int se, int i, float* scores, int bk, float* part, int ps)
        where TKv : struct, IDecodeAttentionKv
        where TG : struct, IDecodeAttentionHeadTile
    {
        float* o0 = part, o1 = o0 + ps, o2 = o1 + ps, o3 = o2 + ps, o4 = o3 + ps, o5 = o4 + ps, o6 = o5 + ps, o7 = o6 + ps;
        float* p0 = scores, p1 = p0 + bk, p2 = p1 + bk, p3 = p2 + bk, p4 = p3 + bk, p5 = p4 + bk, p6 = p5 + bk, p7 = p6 + bk;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> b4 = default, b5 = default, b6 = default, b7 = default;
        if (sb > 0)
        {
            a0 = Vector512.Load(o0 + i); b0 = Vector512.Load(o0 + i + 16);
            if (TG.Count > 1) { a1 = Vector512.Load(o1 + i); b1 = Vector512.Load(o1 + i + 16); }
            if (TG.Count > 2) { a2 = Vector512.Load(o2 + i); b2 = Vector512.Load(o2 + i + 16); }
            if (TG.Count > 3) { a3 = Vector512.Load(o3 + i); b3 = Vector512.Load(o3 + i + 16); }
            if (TG.Count > 4) { a4 = Vector512.Load(o4 + i); b4 = Vector512.Load(o4 + i + 16); }
            if (TG.Count > 5) { a5 = Vector512.Load(o5 + i); b5 = Vector512.Load(o5 + i + 16); }
            if (TG.Count > 6) { a6 = Vector512.Load(o6 + i); b6 = Vector512.Load(o6 + i + 16); }
            if (TG.Count > 7) { a7 = Vector512.Load(o7 + i); b7 = Vector512.Load(o7 + i + 16); }
        }

        byte* v = vBase + sb * rowBytes;
        for (int j = sb; j < se; j++, v += rowBytes)
        {
            TKv.Load32(v, i, out var x, out var y);
            var w = Vector512.Create(p0[j]);
            a0 = Avx512F.FusedMultiplyAdd(x, w, a0);
            b0 = Avx512F.FusedMultiplyAdd(y, w, b0);
            if (TG.Count > 1) { w = Vector512.Create(p1[j]); a1 = Avx512F.FusedMultiplyAdd(x, w, a1); b1 = Avx512F.FusedMultiplyAdd(y, w, b1); }
            if (TG.Count > 2) { w = Vector512.Create(p2[j]); a2 = Avx512F.FusedMultiplyAdd(x, w, a2); b2 = Avx512F.FusedMultiplyAdd(y, w, b2); }
            if (TG.Count > 3) { w = Vector512.Create(p3[j]); a3 = Avx512F.FusedMultiplyAdd(x, w, a3); b3 = Avx512F.FusedMultiplyAdd(y, w, b3); }
            if (TG.Count > 4) { w = Vector512.Create(p4[j]); a4 = Avx512F.FusedMultiplyAdd(x, w, a4); b4 = Avx512F.FusedMultiplyAdd(y, w, b4); }
            if (TG.Count > 5) { w = Vector512.Create(p5[j]); a5 = Avx512F.FusedMultiplyAdd(x, w, a5); b5 = Avx512F.FusedMultiplyAdd(y, w, b5); }
            if (TG.Count > 6) { w = Vector512.Create(p6[j]); a6 = Avx512F.FusedMultiplyAdd(x, w, a6); b6 = Avx512F.FusedMultiplyAdd(y, w, b6); }
            if (TG.Count > 7) { w = Vector512.Create(p7[j]); a7 = Avx512F.FusedMultiplyAdd(x, w, a7); b7 = Avx512F.FusedMultiplyAdd(y, w, b7); }
        }

        a0.Store(o0 + i); b0.Store(o0 + i + 16);
        if (TG.Count > 1) { a1.Store(o1 + i); b1.Store(o1 + i + 16); }
        if (TG.Count > 2) { a2.Store(o2 + i); b2.Store(o2 + i + 16); }
        if (TG.Count > 3) { a3.Store(o3 + i); b3.Store(o3 + i + 16); }
        if (TG.Count > 4) { a4.Store(o4 + i); b4.Store(o4 + i + 16); }
        if (TG.Count > 5) { a5.Store(o5 + i); b5.Store(o5 + i + 16); }
        if (TG.Count > 6) { a6.Store(o6 + i); b6.Store(o6 + i + 16); }
        if (TG.Count > 7) { a7.Store(o7 + i); b7.Store(o7 + i + 16); }
    }

    /// <summary>Columns <c>[i, i + 16)</c> for rows <c>[sb, se)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Columns16<TKv, TG>(byte* vBase, long rowBytes, int sb, int se, int i, float* scores, int bk, float* part, int ps)
        where TKv : struct, IDecodeAttentionKv
        where TG : struct, IDecodeAttentionHeadTile
    {
        float* o0 = part, o1 = o0 + ps, o2 = o1 + ps, o3 = o2 + ps, o4 = o3 + ps, o5 = o4 + ps, o6 = o5 + ps, o7 = o6 + ps;
        float* p0 = scores, p1 = p0 + bk, p2 = p1 + bk, p3 = p2 + bk, p4 = p3 + bk, p5 = p4 + bk, p6 = p5 + bk, p7 = p6 + bk;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> a4 = default, a5 = default, a6 = default, a7 = default;
        if (sb > 0)
        {
            a0 = Vector512.Load(o0 + i);
            if (TG.Count > 1) a1 = Vector512.Load(o1 + i);
            if (TG.Count > 2) a2 = Vector512.Load(o2 + i);
            if (TG.Count > 3) a3 = Vector512.Load(o3 + i);
            if (TG.Count > 4) a4 = Vector512.Load(o4 + i);
            if (TG.Count > 5) a5 = Vector512.Load(o5 + i);
            if (TG.Count > 6) a6 = Vector512.Load(o6 + i);
            if (TG.Count > 7) a7 = Vector512.Load(o7 + i);
        }

        byte* v = vBase + sb * rowBytes;
        for (int j = sb; j < se; j++, v += rowBytes)
        {
            var x = TKv.Load16(v, i);
            a0 = Avx512F.FusedMultiplyAdd(x, Vector512.Create(p0[j]), a0);
            if (TG.Count > 1) a1 = Avx512F.FusedMultiplyAdd(x, Vector512.Create(p1[j]), a1);
            if (TG.Count > 2) a2 = Avx512F.FusedMultiplyAdd(x, Vector512.Create(p2[j]), a2);
            if (TG.Count > 3) a3 = Avx512F.FusedMultiplyAdd(x, Vector512.Create(p3[j]), a3);
            if (TG.Count > 4) a4 = Avx512F.FusedMultiplyAdd(x, Vector512.Create(p4[j]), a4);
            if (TG.Count > 5) a5 = Avx512F.FusedMultiplyAdd(x, Vector512.Create(p5[j]), a5);
            if (TG.Count > 6) a6 = Avx512F.FusedMultiplyAdd(x, Vector512.Create(p6[j]), a6);
            if (TG.Count > 7) a7 = Avx512F.FusedMultiplyAdd(x, Vector512.Create(p7[j]), a7);
        }

        a0.Store(o0 + i);
        if (TG.Count > 1) a1.Store(o1 + i);
        if (TG.Count > 2) a2.Store(o2 + i);
        if (TG.Count > 3) a3.Store(o3 + i);
        if (TG.Count > 4) a4.Store(o4 + i);
        if (TG.Count > 5) a5.Store(o5 + i);
        if (TG.Count > 6) a6.Store(o6 + i);
        if (TG.Count > 7) a7.Store(o7 + i);
    }

    /// <summary>Columns <c>[from, hd)</c> of the value sum, scalar.</summary>
    public static void ValueTail<TKv>(byte* vBase, long rowBytes, int from, int hd, int n, int heads, float* p, int bk, float* part, int ps)
        where TKv : struct, IDecodeAttentionKv
    {
        for (int g = 0; g < heads; g++)
        {
            for (int i = from; i < hd; i++)
            {
                part[g * ps + i] = 0;
            }
        }

        byte* v = vBase;
        for (int j = 0; j < n; j++, v += rowBytes)
        {
            for (int i = from; i < hd; i++)
            {
                float x = TKv.Load1(v, i);
                for (int g = 0; g < heads; g++)
                {
                    part[g * ps + i] += p[g * bk + j] * x;
                }
            }
        }
    }
}

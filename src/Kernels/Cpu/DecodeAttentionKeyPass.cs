using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// The score pass of a <see cref="DecodeAttentionBlock"/> on AVX-512: one pass over the block's key
/// rows, TG.Count dot products per row, two rows at a time. Columns go 32 at a time
/// (<see cref="IDecodeAttentionKv.Load32"/>: one 64-byte load of bf16 widens to its even and odd
/// elements with a shift and an and), with two accumulators per head so the FMA chains are short; q
/// is stored in the same lane order (<see cref="DecodeAttentionBlock.PermuteQ"/>). A last 16 columns
/// use <see cref="IDecodeAttentionKv.Load16"/>, any rest is scalar.
/// </summary>
internal static unsafe class DecodeAttentionKeyPass
{
    /// <summary>How many key rows ahead the key pass prefetches (prefetches past the block's end are
    /// harmless hints: they never fault).</summary>
    private const int KeyPrefetchRows = 12;

    /// <summary>
    /// Scores of query heads <c>c·G + g0 … + TG.Count - 1</c> against keys <c>[j0, j1)</c> of kv head c
    /// into <paramref name="scores"/>: TG.Count rows of <see cref="DecodeAttentionJob.BlockKeys"/> floats,
    /// followed by the lane buffer (8 heads × 16 keys × 16 lanes).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<TKv, TG>(DecodeAttentionJob* job, int c, int g0, int j0, int j1, float* scores)
        where TKv : struct, IDecodeAttentionKv
        where TG : struct, IDecodeAttentionHeadTile
    {
        int hd = job->HeadDim, full = hd & ~15, n = j1 - j0, bk = job->BlockKeys;
        long rowBytes = job->RowStride;
        long headOffset = c * job->HeadStride;
        float* q0 = job->Q + (long)(c * job->Group + g0) * hd;

        // The 16-lane accumulators go to an L1 buffer (16 keys × TG.Count) and are reduced 16 keys
        // at a time (ReduceLanes), about 3 instructions per score instead of ~26 for Vector512.Sum.
        float* lanes = scores + 8 * bk; // after the (up to) 8 score rows: 8 heads × 16 keys × 16 lanes
        byte* k = (byte*)job->Keys + (long)j0 * rowBytes + headOffset;
        byte* vPrefetch = (byte*)job->Values + (long)j0 * rowBytes + headOffset;
        int rowLines = (int)((hd * TKv.Size + 63) >> 6);
        for (int jb = 0; jb < n; jb += 16)
        {
            int je = Math.Min(n, jb + 16);
            for (int j = jb; j < jb + 16; j += 2, k += 2 * rowBytes)
            {
                if (j < je)
                {
                    // The value pass reads these keys' value rows next: start fetching them now. Keys:
                    // in a [m, KV, hd] cache rows are rowBytes apart (all kv heads of a key in between), too
                    // far for the hardware prefetcher to follow well; fetch KeyPrefetchRows ahead.
                    byte* vp = vPrefetch + j * rowBytes;
                    byte* kp = k + KeyPrefetchRows * rowBytes;
                    for (int line = 0; line < rowLines; line++)
                    {
                        Sse.Prefetch1(vp + (line << 6));
                        Sse.Prefetch1(vp + rowBytes + (line << 6));
                        Sse.Prefetch0(kp + (line << 6));
                        Sse.Prefetch0(kp + rowBytes + (line << 6));
                    }
                }

                // A missing second row (odd block end) reads the first again; its sums are dropped.
                RowPair<TKv, TG>(k, j + 1 < je ? k + rowBytes : k, j < je, q0, hd, lanes + (j - jb) * 16);
            }

            k -= (jb + 16 - je) * rowBytes;
            for (int g = 0; g < TG.Count; g++)
            {
                var sums = ReduceLanes(lanes + g * 256);
                if (je - jb == 16)
                {
                    sums.Store(scores + g * bk + jb);
                }
                else
                {
                    for (int t = 0; t < je - jb; t++)
                    {
                        scores[g * bk + jb + t] = sums.GetElement(t);
                    }
                }
            }
        }

        if (full < hd)
        {
            ScalarColumns<TKv, TG>((byte*)job->Keys + (long)j0 * rowBytes + headOffset, rowBytes, full, hd, n, q0, scores, bk);
        }
    }

    /// <summary>
    /// Key rows k (accumulators a) and k1 (b) against every head's q, each q chunk loaded once for both
    /// rows (the loop is bound by loads otherwise); the 16-lane sums go to the lane buffer at
    /// <paramref name="l"/>. When <paramref name="live"/> is false (keys past the block's end) zeros
    /// are stored, which are never read back.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowPair<TKv, TG>(byte* k, byte* k1, bool live, float* q0, int hd, float* l)
        where TKv : struct, IDecodeAttentionKv
        where TG : struct, IDecodeAttentionHeadTile
    {
        int full32 = hd & ~31, full = hd & ~15;
        float* q1 = q0 + hd, q2 = q1 + hd, q3 = q2 + hd, q4 = q3 + hd, q5 = q4 + hd, q6 = q5 + hd, q7 = q6 + hd;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> a4 = default, a5 = default, a6 = default, a7 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> b4 = default, b5 = default, b6 = default, b7 = default;
        if (live)
        {
            for (int i = 0; i < full32; i += 32)
            {
                TKv.Load32(k, i, out var x, out var y);
                TKv.Load32(k1, i, out var u, out var w);
                Dot2(x, y, u, w, q0 + i, ref a0, ref b0);
                if (TG.Count > 1) Dot2(x, y, u, w, q1 + i, ref a1, ref b1);
                if (TG.Count > 2) Dot2(x, y, u, w, q2 + i, ref a2, ref b2);
                if (TG.Count > 3) Dot2(x, y, u, w, q3 + i, ref a3, ref b3);
                if (TG.Count > 4) Dot2(x, y, u, w, q4 + i, ref a4, ref b4);
                if (TG.Count > 5) Dot2(x, y, u, w, q5 + i, ref a5, ref b5);
                if (TG.Count > 6) Dot2(x, y, u, w, q6 + i, ref a6, ref b6);
                if (TG.Count > 7) Dot2(x, y, u, w, q7 + i, ref a7, ref b7);
            }

            if (full > full32)
            {
                var x = TKv.Load16(k, full32);
                var u = TKv.Load16(k1, full32);
                Dot1(x, u, q0 + full32, ref a0, ref b0);
                if (TG.Count > 1) Dot1(x, u, q1 + full32, ref a1, ref b1);
                if (TG.Count > 2) Dot1(x, u, q2 + full32, ref a2, ref b2);
                if (TG.Count > 3) Dot1(x, u, q3 + full32, ref a3, ref b3);
                if (TG.Count > 4) Dot1(x, u, q4 + full32, ref a4, ref b4);
                if (TG.Count > 5) Dot1(x, u, q5 + full32, ref a5, ref b5);
                if (TG.Count > 6) Dot1(x, u, q6 + full32, ref a6, ref b6);
                if (TG.Count > 7) Dot1(x, u, q7 + full32, ref a7, ref b7);
            }
        }

        // Lane buffer: head g, key t at l + (g·16 + t)·16.
        a0.Store(l); b0.Store(l + 16);
        if (TG.Count > 1) { a1.Store(l + 256); b1.Store(l + 256 + 16); }
        if (TG.Count > 2) { a2.Store(l + 2 * 256); b2.Store(l + 2 * 256 + 16); }
        if (TG.Count > 3) { a3.Store(l + 3 * 256); b3.Store(l + 3 * 256 + 16); }
        if (TG.Count > 4) { a4.Store(l + 4 * 256); b4.Store(l + 4 * 256 + 16); }
        if (TG.Count > 5) { a5.Store(l + 5 * 256); b5.Store(l + 5 * 256 + 16); }
        if (TG.Count > 6) { a6.Store(l + 6 * 256); b6.Store(l + 6 * 256 + 16); }
        if (TG.Count > 7) { a7.Store(l + 7 * 256); b7.Store(l + 7 * 256 + 16); }
    }

    /// <summary>Columns <c>[from, hd)</c> of the scores, scalar: added to the vector sums.</summary>
    private static void ScalarColumns<TKv, TG>(byte* k, long rowBytes, int from, int hd, int n, float* q0, float* scores, int bk)
        where TKv : struct, IDecodeAttentionKv
        where TG : struct, IDecodeAttentionHeadTile
    {
        for (int j = 0; j < n; j++, k += rowBytes)
        {
            for (int i = from; i < hd; i++)
            {
                float x = TKv.Load1(k, i);
                for (int g = 0; g < TG.Count; g++)
                {
                    scores[g * bk + j] += x * q0[g * hd + i];
                }
            }
        }
    }

    /// <summary>Two keys' 32 columns (x, y and u, w in Load32's order) against one head's q chunk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot2(Vector512<float> x, Vector512<float> y, Vector512<float> u, Vector512<float> w, float* q,
        ref Vector512<float> a, ref Vector512<float> b)
    {
        var qx = Vector512.Load(q);
        var qy = Vector512.Load(q + 16);
        a = Avx512F.FusedMultiplyAdd(x, qx, a);
        b = Avx512F.FusedMultiplyAdd(u, qx, b);
        a = Avx512F.FusedMultiplyAdd(y, qy, a);
        b = Avx512F.FusedMultiplyAdd(w, qy, b);
    }

    /// <summary>Two keys' 16 columns against one head's q chunk.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Dot1(Vector512<float> x, Vector512<float> u, float* q, ref Vector512<float> a, ref Vector512<float> b)
    {
        var qx = Vector512.Load(q);
        a = Avx512F.FusedMultiplyAdd(x, qx, a);
        b = Avx512F.FusedMultiplyAdd(u, qx, b);
    }

    /// <summary>
    /// Lane t of the result is the sum of the 16 lanes of vector t of <paramref name="v"/> (16
    /// vectors): a butterfly of unpacks and 128-bit shuffles, 45 instructions for 16 sums.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ReduceLanes(float* v)
    {
        // Step 1: per 128-bit lane, pairs of vectors → [x0, x1, x0, x1] partial sums.
        var u0 = Pair(Vector512.Load(v), Vector512.Load(v + 16));
        var u1 = Pair(Vector512.Load(v + 32), Vector512.Load(v + 48));
        var u2 = Pair(Vector512.Load(v + 64), Vector512.Load(v + 80));
        var u3 = Pair(Vector512.Load(v + 96), Vector512.Load(v + 112));
        var u4 = Pair(Vector512.Load(v + 128), Vector512.Load(v + 144));
        var u5 = Pair(Vector512.Load(v + 160), Vector512.Load(v + 176));
        var u6 = Pair(Vector512.Load(v + 192), Vector512.Load(v + 208));
        var u7 = Pair(Vector512.Load(v + 224), Vector512.Load(v + 240));
        // Step 2: per 128-bit lane [x0, x1, x2, x3].
        var w0 = Quad(u0, u1);
        var w1 = Quad(u2, u3);
        var w2 = Quad(u4, u5);
        var w3 = Quad(u6, u7);
        // Steps 3 and 4: fold the four 128-bit lanes.
        return Lanes(Lanes(w0, w1), Lanes(w2, w3));

        static Vector512<float> Pair(Vector512<float> a, Vector512<float> b) =>
            Avx512F.UnpackLow(a, b) + Avx512F.UnpackHigh(a, b);

        static Vector512<float> Quad(Vector512<float> a, Vector512<float> b) =>
            Avx512F.UnpackLow(a.AsDouble(), b.AsDouble()).AsSingle() + Avx512F.UnpackHigh(a.AsDouble(), b.AsDouble()).AsSingle();

        static Vector512<float> Lanes(Vector512<float> a, Vector512<float> b) =>
            Avx512F.Shuffle4x128(a, b, 0x88) + Avx512F.Shuffle4x128(a, b, 0xDD);
    }
}

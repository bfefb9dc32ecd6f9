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
    /// <summary>Keys per pass of the value loop: 64 rows of 128 bf16 (16 KiB) stay in L1 while
    /// the loop walks their columns 16 at a time.</summary>
    private const int ValueSubBlock = 64;

    /// <summary>How many key rows ahead the key pass prefetches (prefetches past the block's end are
    /// harmless hints: they never fault).</summary>
    private const int KeyPrefetchRows = 12;

    private interface IKv
    {
        static abstract int Size { get; }

        /// <summary>Elements <c>[i, i + 16)</c> of the row at <paramref name="row"/> as fp32.</summary>
        static abstract Vector512<float> Load16(byte* row, int i);

        static abstract float Load1(byte* row, int i);

        /// <summary>Elements <c>[i, i + 32)</c> as fp32 in two vectors, in the lane order of
        /// <see cref="PermuteQ"/>: bf16 gives the even elements in <paramref name="x"/> and the odd ones
        /// in <paramref name="y"/>; fp32 gives them in order.</summary>
        static abstract void Load32(byte* row, int i, out Vector512<float> x, out Vector512<float> y);

        /// <summary>Puts 32 floats summed in <see cref="Load32"/>'s lane order back in column order.</summary>
        static abstract void Unpermute(float* o);
    }

    private interface IHeadTile
    {
        static abstract int Count { get; }
    }

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
                    Scalar<Bf16>(job, c, g0, count, j0, j1, unit, scores);
                }
                else
                {
                    Scalar<F32>(job, c, g0, count, j0, j1, unit, scores);
                }
            }
            else if (job->Bf16)
            {
                Tiles<Bf16>(job, c, g0, count, j0, j1, unit, scores);
            }
            else
            {
                Tiles<F32>(job, c, g0, count, j0, j1, unit, scores);
            }
        }
    }

    private static void Tiles<TKv>(DecodeAttentionJob* job, int c, int g0, int count, int j0, int j1, int unit, float* scores)
        where TKv : struct, IKv
    {
        switch (count)
        {
            case 1: Avx512<TKv, T1>(job, c, g0, j0, j1, unit, scores); break;
            case 2: Avx512<TKv, T2>(job, c, g0, j0, j1, unit, scores); break;
            case 3: Avx512<TKv, T3>(job, c, g0, j0, j1, unit, scores); break;
            case 4: Avx512<TKv, T4>(job, c, g0, j0, j1, unit, scores); break;
            case 5: Avx512<TKv, T5>(job, c, g0, j0, j1, unit, scores); break;
            case 6: Avx512<TKv, T6>(job, c, g0, j0, j1, unit, scores); break;
            case 7: Avx512<TKv, T7>(job, c, g0, j0, j1, unit, scores); break;
            default: Avx512<TKv, T8>(job, c, g0, j0, j1, unit, scores); break;
        }
    }

    /// <summary>
    /// Query heads <c>c·G + g0 … + TG.Count - 1</c> against keys <c>[j0, j1)</c> of kv head c.
    /// scores holds TG.Count rows of <see cref="DecodeAttentionJob.BlockKeys"/> floats.
    /// </summary>
    /// <remarks>
    /// Columns go 32 at a time (<see cref="IKv.Load32"/>: one 64-byte load of bf16 widens to its even
    /// and odd elements with a shift and an and), with two accumulators per head so the FMA chains
    /// are short; q is stored in the same lane order (<see cref="PermuteQ"/>) and the value sums are
    /// put back in column order at the end (<see cref="IKv.Unpermute"/>). A last 16 columns use
    /// <see cref="IKv.Load16"/>, any rest is scalar.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Avx512<TKv, TG>(DecodeAttentionJob* job, int c, int g0, int j0, int j1, int unit, float* scores)
        where TKv : struct, IKv
        where TG : struct, IHeadTile
    {
        int hd = job->HeadDim, full32 = hd & ~31, full = hd & ~15, n = j1 - j0, bk = job->BlockKeys;
        long rowBytes = (long)job->KvHeads * hd * TKv.Size;
        long headOffset = (long)c * hd * TKv.Size;
        float* q0 = job->Q + (long)(c * job->Group + g0) * hd;
        float* q1 = q0 + hd, q2 = q1 + hd, q3 = q2 + hd, q4 = q3 + hd, q5 = q4 + hd, q6 = q5 + hd, q7 = q6 + hd;

        // Scores: one pass over the key rows, TG.Count dot products per row. The 16-lane
        // accumulators go to an L1 buffer (16 keys × TG.Count) and are reduced 16 keys at a time
        // (ReduceLanes), about 3 instructions per score instead of ~26 for Vector512.Sum.
        float* lanes = scores + 8 * bk; // after the (up to) 8 score rows: 8 heads × 16 keys × 16 lanes
        byte* k = (byte*)job->Keys + (long)j0 * rowBytes + headOffset;
        byte* vPrefetch = (byte*)job->Values + (long)j0 * rowBytes + headOffset;
        int rowLines = (int)((hd * TKv.Size + 63) >> 6);
        for (int jb = 0; jb < n; jb += 16)
        {
            int je = Math.Min(n, jb + 16);
            for (int j = jb; j < jb + 16; j += 2, k += 2 * rowBytes)
            {
                // Two key rows at a time: each q chunk is loaded once for both (the loop is bound by
                // loads otherwise). Accumulators a: row j, b: row j + 1.
                Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
                Vector512<float> a4 = default, a5 = default, a6 = default, a7 = default;
                Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
                Vector512<float> b4 = default, b5 = default, b6 = default, b7 = default;
                if (j < je)
                {
                    // A missing second row (odd block end) reads the first again; its sums are dropped.
                    byte* k1 = j + 1 < je ? k + rowBytes : k;

                    // The value pass reads these keys' value rows next: start fetching them now. Keys:
                    // rows are rowBytes apart (all kv heads of a key in between), too far for the
                    // hardware prefetcher to follow well; fetch KeyPrefetchRows ahead.
                    byte* vp = vPrefetch + j * rowBytes;
                    byte* kp = k + KeyPrefetchRows * rowBytes;
                    for (int line = 0; line < rowLines; line++)
                    {
                        Sse.Prefetch1(vp + (line << 6));
                        Sse.Prefetch1(vp + rowBytes + (line << 6));
                        Sse.Prefetch0(kp + (line << 6));
                        Sse.Prefetch0(kp + rowBytes + (line << 6));
                    }

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

                // Lane buffer: head g, key t at lanes + (g·16 + t)·16; keys past the block's end
                // hold zeros or the dropped repeat and are never read back.
                float* l = lanes + (j - jb) * 16;
                a0.Store(l); b0.Store(l + 16);
                if (TG.Count > 1) { a1.Store(l + 256); b1.Store(l + 256 + 16); }
                if (TG.Count > 2) { a2.Store(l + 2 * 256); b2.Store(l + 2 * 256 + 16); }
                if (TG.Count > 3) { a3.Store(l + 3 * 256); b3.Store(l + 3 * 256 + 16); }
                if (TG.Count > 4) { a4.Store(l + 4 * 256); b4.Store(l + 4 * 256 + 16); }
                if (TG.Count > 5) { a5.Store(l + 5 * 256); b5.Store(l + 5 * 256 + 16); }
                if (TG.Count > 6) { a6.Store(l + 6 * 256); b6.Store(l + 6 * 256 + 16); }
                if (TG.Count > 7) { a7.Store(l + 7 * 256); b7.Store(l + 7 * 256 + 16); }
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
            k = (byte*)job->Keys + (long)j0 * rowBytes + headOffset;
            for (int j = 0; j < n; j++, k += rowBytes)
            {
                for (int i = full; i < hd; i++)
                {
                    float x = TKv.Load1(k, i);
                    for (int g = 0; g < TG.Count; g++)
                    {
                        scores[g * bk + j] += x * q0[g * hd + i];
                    }
                }
            }
        }

        // Block softmax, unnormalized: p = exp(s - max) in place; max and Σp go to the partial.
        float* part = job->Partials + ((long)unit * job->Group + g0) * job->PartialStride;
        int ps = job->PartialStride;
        for (int g = 0; g < TG.Count; g++)
        {
            float* s = scores + g * bk;
            float* pg = part + g * ps;
            (pg[ps - 16], pg[ps - 15]) = ExpBlock(s, n);
        }

        // Values: o_g += p_g[j]·v_j, 32 columns at a time over sub-blocks of rows that stay in L1.
        float* o0 = part, o1 = o0 + ps, o2 = o1 + ps, o3 = o2 + ps, o4 = o3 + ps, o5 = o4 + ps, o6 = o5 + ps, o7 = o6 + ps;
        float* p0 = scores, p1 = p0 + bk, p2 = p1 + bk, p3 = p2 + bk, p4 = p3 + bk, p5 = p4 + bk, p6 = p5 + bk, p7 = p6 + bk;
        byte* vBase = (byte*)job->Values + (long)j0 * rowBytes + headOffset;
        for (int sb = 0; sb < n; sb += ValueSubBlock)
        {
            int se = Math.Min(n, sb + ValueSubBlock);
            for (int i = 0; i < full32; i += 32)
            {
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

            if (full > full32)
            {
                int i = full32;
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
    /// Writes <paramref name="src"/>·<paramref name="scale"/> (<paramref name="heads"/> rows of
    /// <paramref name="hd"/>) to <paramref name="dst"/>, each row's 32-column chunks in the lane order of
    /// the bf16 <see cref="IKv.Load32"/> (even columns, then odd) when <paramref name="interleave"/>;
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

    /// <summary>Columns <c>[from, hd)</c> of the value sum, scalar.</summary>
    private static void ValueTail<TKv>(byte* vBase, long rowBytes, int from, int hd, int n, int heads, float* p, int bk, float* part, int ps)
        where TKv : struct, IKv
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

    /// <summary>The same unit in plain C# (any CPU; tests force it).</summary>
    private static void Scalar<TKv>(DecodeAttentionJob* job, int c, int g0, int count, int j0, int j1, int unit, float* scores)
        where TKv : struct, IKv
    {
        int hd = job->HeadDim, n = j1 - j0, bk = job->BlockKeys, ps = job->PartialStride;
        long rowBytes = (long)job->KvHeads * hd * TKv.Size;
        long headOffset = (long)c * hd * TKv.Size;
        float* q = job->Q + (long)(c * job->Group + g0) * hd;
        byte* k = (byte*)job->Keys + (long)j0 * rowBytes + headOffset;
        for (int j = 0; j < n; j++, k += rowBytes)
        {
            for (int g = 0; g < count; g++)
            {
                float acc = 0;
                for (int i = 0; i < hd; i++)
                {
                    acc += TKv.Load1(k, i) * q[g * hd + i];
                }

                scores[g * bk + j] = acc;
            }
        }

        float* part = job->Partials + ((long)unit * job->Group + g0) * ps;
        for (int g = 0; g < count; g++)
        {
            float* s = scores + g * bk;
            float max = float.NegativeInfinity;
            for (int j = 0; j < n; j++)
            {
                max = MathF.Max(max, s[j]);
            }

            float sum = 0;
            for (int j = 0; j < n; j++)
            {
                s[j] = MathF.Exp(s[j] - max);
                sum += s[j];
            }

            part[g * ps + ps - 16] = max;
            part[g * ps + ps - 15] = sum;
        }

        byte* vBase = (byte*)job->Values + (long)j0 * rowBytes + headOffset;
        ValueTail<TKv>(vBase, rowBytes, 0, hd, n, count, scores, bk, part, ps);
    }

    private readonly struct Bf16 : IKv
    {
        public static int Size => sizeof(ushort);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int i) =>
            Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load((ushort*)row + i)), 16).AsSingle();

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int i) => BitConverter.Int32BitsToSingle(((ushort*)row)[i] << 16);

        /// <summary>One 64-byte load: element 2t is the low half of dword t, so <c>w &lt;&lt; 16</c> is
        /// it as fp32; element 2t + 1 is the high half, <c>w &amp; 0xFFFF0000</c>.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load32(byte* row, int i, out Vector512<float> x, out Vector512<float> y)
        {
            var w = Vector512.Load((uint*)((ushort*)row + i));
            x = Avx512F.ShiftLeftLogical(w, 16).AsSingle();
            y = Avx512F.And(w, Vector512.Create(0xFFFF0000u)).AsSingle();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpermute(float* o)
        {
            var even = Vector512.Load(o);
            var odd = Vector512.Load(o + 16);
            var lo = Vector512.Create(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
            var hi = Vector512.Create(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
            Avx512F.PermuteVar16x32x2(even, lo, odd).Store(o);
            Avx512F.PermuteVar16x32x2(even, hi, odd).Store(o + 16);
        }
    }

    private readonly struct F32 : IKv
    {
        public static int Size => sizeof(float);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load16(byte* row, int i) => Vector512.Load((float*)row + i);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Load1(byte* row, int i) => ((float*)row)[i];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load32(byte* row, int i, out Vector512<float> x, out Vector512<float> y)
        {
            x = Vector512.Load((float*)row + i);
            y = Vector512.Load((float*)row + i + 16);
        }

        public static void Unpermute(float* o)
        {
        }
    }

    private readonly struct T1 : IHeadTile { public static int Count => 1; }
    private readonly struct T2 : IHeadTile { public static int Count => 2; }
    private readonly struct T3 : IHeadTile { public static int Count => 3; }
    private readonly struct T4 : IHeadTile { public static int Count => 4; }
    private readonly struct T5 : IHeadTile { public static int Count => 5; }
    private readonly struct T6 : IHeadTile { public static int Count => 6; }
    private readonly struct T7 : IHeadTile { public static int Count => 7; }
    private readonly struct T8 : IHeadTile { public static int Count => 8; }
}

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>AVX-512 kernels: 4 weight rows × up to 4 batch rows per pass over In.</summary>
public static unsafe partial class Bf16MatMul
{
    /// <summary>Take a tile's 4 rows from the 4 quarters of a chunk (true, default: ~1.3× faster
    /// at batch 1) or adjacent (false). Settable for experiments.</summary>
    internal static bool SpreadRows { get; set; } = true;

    private interface IBatchTile
    {
        static abstract int Count { get; }
    }

    /// <summary>
    /// Rows [o0, o1) of one segment. The 4 rows of a tile come from the 4 quarters of the range
    /// (o0 + i, o0 + q + i, ...), so the tile reads 4 long sequential streams, each continuing
    /// where its previous row ended: with 4 adjacent rows every stream would be one row (a few KB)
    /// long and the hardware prefetcher would keep restarting (measured ~40% slower at batch 1).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsAvx512(ref MatMulSegment s, int o0, int o1)
    {
        int q = (o1 - o0) / 4;
        int step = SpreadRows ? q : 1;
        long rowStep = (long)step * s.In;
        for (int i = 0; i < q; i++)
        {
            int o = SpreadRows ? o0 + i : o0 + 4 * i;
            ushort* w = s.W + (long)o * s.In;
            for (int b = 0; b < s.Batch; b += 4)
            {
                float* x = s.X + (long)b * s.XStride;
                float* y = s.Y + (long)b * s.YStride + o;
                switch (Math.Min(4, s.Batch - b))
                {
                    case 1:
                        Tile4Avx512<Tile1>(w, s.In, rowStep, x, s.XStride, y, s.YStride, step);
                        break;
                    case 2:
                        Tile4Avx512<Tile2>(w, s.In, rowStep, x, s.XStride, y, s.YStride, step);
                        break;
                    case 3:
                        Tile4Avx512<Tile3>(w, s.In, rowStep, x, s.XStride, y, s.YStride, step);
                        break;
                    default:
                        Tile4Avx512<Tile4>(w, s.In, rowStep, x, s.XStride, y, s.YStride, step);
                        break;
                }
            }
        }

        for (int o = o0 + 4 * q; o < o1; o++)
        {
            ushort* w = s.W + (long)o * s.In;
            for (int b = 0; b < s.Batch; b++)
            {
                s.Y[(long)b * s.YStride + o] = DotAvx512(w, s.X + (long)b * s.XStride, s.In);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float DotAvx512(ushort* w, float* x, int n)
    {
        int full = n & ~31;
        var hi = Vector512.Create(0xFFFF0000u);
        var acc0 = Vector512<float>.Zero;
        var acc1 = Vector512<float>.Zero;
        for (int k = 0; k < full; k += 32)
        {
            var raw = Vector512.Load((uint*)(w + k));
            acc0 = Avx512F.FusedMultiplyAdd(Avx512F.ShiftLeftLogical(raw, 16).AsSingle(), Vector512.Load(x + k), acc0);
            acc1 = Avx512F.FusedMultiplyAdd((raw & hi).AsSingle(), Vector512.Load(x + k + 16), acc1);
        }

        float sum = Vector512.Sum(acc0 + acc1);
        return sum + DotScalar(w + full, x + full, n - full);
    }

    /// <summary>
    /// y[b, r·yRowStep] for the 4 rows w + r·wRowStep (r &lt; 4) and b &lt; TB.Count batch rows.
    /// TB is a struct type argument, so the JIT compiles one copy per batch count with the unused
    /// accumulators removed: at most 16 accumulators + 8 widened weights + 2 activations, which
    /// fits the 32 zmm registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4Avx512<TB>(ushort* w, int n, long wRowStep, float* x, int xStride, float* y, int yStride, int yRowStep)
        where TB : struct, IBatchTile
    {
        int full = n & ~31;
        ushort* w0 = w, w1 = w + wRowStep, w2 = w1 + wRowStep, w3 = w2 + wRowStep;
        float* x0 = x;
        var hi = Vector512.Create(0xFFFF0000u);
        Vector512<float> a00 = default, a10 = default, a20 = default, a30 = default;
        Vector512<float> a01 = default, a11 = default, a21 = default, a31 = default;
        Vector512<float> a02 = default, a12 = default, a22 = default, a32 = default;
        Vector512<float> a03 = default, a13 = default, a23 = default, a33 = default;
        for (int k = 0; k < full; k += 32)
        {
            // Activations once per step in registers (2 per batch row), then one weight row at a
            // time: 16 accumulators + 8 activations + 2 widened weights + the mask fit the 32 zmm
            // registers, and each activation load serves 4 rows (loads, not FMAs, were the limit
            // at batch 8 with activations as FMA memory operands).
            Vector512<float> x0e = Vector512.Load(x0 + k), x0o = Vector512.Load(x0 + k + 16);
            Vector512<float> x1e = default, x1o = default, x2e = default, x2o = default, x3e = default, x3o = default;
            if (TB.Count > 1)
            {
                x1e = Vector512.Load(x0 + xStride + k);
                x1o = Vector512.Load(x0 + xStride + k + 16);
            }

            if (TB.Count > 2)
            {
                x2e = Vector512.Load(x0 + 2 * xStride + k);
                x2o = Vector512.Load(x0 + 2 * xStride + k + 16);
            }

            if (TB.Count > 3)
            {
                x3e = Vector512.Load(x0 + 3 * xStride + k);
                x3o = Vector512.Load(x0 + 3 * xStride + k + 16);
            }

            var r = Vector512.Load((uint*)(w0 + k));
            Row<TB>(Avx512F.ShiftLeftLogical(r, 16).AsSingle(), (r & hi).AsSingle(), x0e, x0o, x1e, x1o, x2e, x2o, x3e, x3o, ref a00, ref a01, ref a02, ref a03);
            r = Vector512.Load((uint*)(w1 + k));
            Row<TB>(Avx512F.ShiftLeftLogical(r, 16).AsSingle(), (r & hi).AsSingle(), x0e, x0o, x1e, x1o, x2e, x2o, x3e, x3o, ref a10, ref a11, ref a12, ref a13);
            r = Vector512.Load((uint*)(w2 + k));
            Row<TB>(Avx512F.ShiftLeftLogical(r, 16).AsSingle(), (r & hi).AsSingle(), x0e, x0o, x1e, x1o, x2e, x2o, x3e, x3o, ref a20, ref a21, ref a22, ref a23);
            r = Vector512.Load((uint*)(w3 + k));
            Row<TB>(Avx512F.ShiftLeftLogical(r, 16).AsSingle(), (r & hi).AsSingle(), x0e, x0o, x1e, x1o, x2e, x2o, x3e, x3o, ref a30, ref a31, ref a32, ref a33);
        }

        // Reduce before any call: accumulators live across a call would be spilled to the stack
        // on every loop iteration (zmm registers are caller-saved).
        Store(a00, a10, a20, a30, y, yRowStep);
        if (TB.Count > 1)
        {
            Store(a01, a11, a21, a31, y + yStride, yRowStep);
        }

        if (TB.Count > 2)
        {
            Store(a02, a12, a22, a32, y + 2 * yStride, yRowStep);
        }

        if (TB.Count > 3)
        {
            Store(a03, a13, a23, a33, y + 3 * yStride, yRowStep);
        }

        int tail = n - full;
        if (tail > 0)
        {
            for (int b = 0; b < TB.Count; b++)
            {
                float* xb = x + b * xStride + full;
                float* yb = y + b * yStride;
                yb[0] += DotScalar(w0 + full, xb, tail);
                yb[yRowStep] += DotScalar(w1 + full, xb, tail);
                yb[2 * yRowStep] += DotScalar(w2 + full, xb, tail);
                yb[3 * yRowStep] += DotScalar(w3 + full, xb, tail);
            }
        }
    }

    /// <summary>Accumulates one widened weight block (even lanes e, odd lanes d) into the
    /// accumulators of TB.Count batch rows, given their lane-ordered activations.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TB>(
        Vector512<float> e, Vector512<float> d,
        Vector512<float> x0e, Vector512<float> x0o, Vector512<float> x1e, Vector512<float> x1o,
        Vector512<float> x2e, Vector512<float> x2o, Vector512<float> x3e, Vector512<float> x3o,
        ref Vector512<float> a0, ref Vector512<float> a1, ref Vector512<float> a2, ref Vector512<float> a3)
        where TB : struct, IBatchTile
    {
        a0 = Avx512F.FusedMultiplyAdd(x0e, e, a0);
        a0 = Avx512F.FusedMultiplyAdd(x0o, d, a0);
        if (TB.Count > 1)
        {
            a1 = Avx512F.FusedMultiplyAdd(x1e, e, a1);
            a1 = Avx512F.FusedMultiplyAdd(x1o, d, a1);
        }

        if (TB.Count > 2)
        {
            a2 = Avx512F.FusedMultiplyAdd(x2e, e, a2);
            a2 = Avx512F.FusedMultiplyAdd(x2o, d, a2);
        }

        if (TB.Count > 3)
        {
            a3 = Avx512F.FusedMultiplyAdd(x3e, e, a3);
            a3 = Avx512F.FusedMultiplyAdd(x3o, d, a3);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, float* y, int step)
    {
        y[0] = Vector512.Sum(a0);
        y[step] = Vector512.Sum(a1);
        y[2 * step] = Vector512.Sum(a2);
        y[3 * step] = Vector512.Sum(a3);
    }

    private readonly struct Tile1 : IBatchTile
    {
        public static int Count => 1;
    }

    private readonly struct Tile2 : IBatchTile
    {
        public static int Count => 2;
    }

    private readonly struct Tile3 : IBatchTile
    {
        public static int Count => 3;
    }

    private readonly struct Tile4 : IBatchTile
    {
        public static int Count => 4;
    }
}

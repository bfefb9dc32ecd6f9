using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>AVX-512 kernels: 4 weight rows × up to 4 batch rows per pass over In.</summary>
public static unsafe partial class Bf16MatMul
{
    private interface IBatchTile
    {
        static abstract int Count { get; }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsAvx512(ref MatMulSegment s, int o0, int o1)
    {
        int o = o0;
        for (; o + 4 <= o1; o += 4)
        {
            ushort* w = s.W + (long)o * s.In;
            for (int b = 0; b < s.Batch; b += 4)
            {
                float* x = s.X + (long)b * s.XStride;
                float* y = s.Y + (long)b * s.YStride + o;
                switch (Math.Min(4, s.Batch - b))
                {
                    case 1:
                        Tile4Avx512<Tile1>(w, s.In, x, s.XStride, y, s.YStride);
                        break;
                    case 2:
                        Tile4Avx512<Tile2>(w, s.In, x, s.XStride, y, s.YStride);
                        break;
                    case 3:
                        Tile4Avx512<Tile3>(w, s.In, x, s.XStride, y, s.YStride);
                        break;
                    default:
                        Tile4Avx512<Tile4>(w, s.In, x, s.XStride, y, s.YStride);
                        break;
                }
            }
        }

        for (; o < o1; o++)
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
    /// y[b, r] for r &lt; 4 rows starting at <paramref name="w"/> and b &lt; TB.Count batch rows.
    /// TB is a struct type argument, so the JIT compiles one copy per batch count with the unused
    /// accumulators removed: at most 16 accumulators + 8 widened weights + 2 activations, which
    /// fits the 32 zmm registers.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile4Avx512<TB>(ushort* w, int n, float* x, int xStride, float* y, int yStride)
        where TB : struct, IBatchTile
    {
        int full = n & ~31;
        ushort* w0 = w, w1 = w + n, w2 = w1 + n, w3 = w2 + n;
        float* x0 = x;
        var hi = Vector512.Create(0xFFFF0000u);
        Vector512<float> a00 = default, a10 = default, a20 = default, a30 = default;
        Vector512<float> a01 = default, a11 = default, a21 = default, a31 = default;
        Vector512<float> a02 = default, a12 = default, a22 = default, a32 = default;
        Vector512<float> a03 = default, a13 = default, a23 = default, a33 = default;
        for (int k = 0; k < full; k += 32)
        {
            // One weight row at a time, activations as FMA memory operands (L1 hits): 16
            // accumulators + 2 widened weights + the mask stay in registers, nothing spills.
            var r = Vector512.Load((uint*)(w0 + k));
            var e = Avx512F.ShiftLeftLogical(r, 16).AsSingle();
            var d = (r & hi).AsSingle();
            Row<TB>(e, d, x0 + k, xStride, ref a00, ref a01, ref a02, ref a03);
            r = Vector512.Load((uint*)(w1 + k));
            e = Avx512F.ShiftLeftLogical(r, 16).AsSingle();
            d = (r & hi).AsSingle();
            Row<TB>(e, d, x0 + k, xStride, ref a10, ref a11, ref a12, ref a13);
            r = Vector512.Load((uint*)(w2 + k));
            e = Avx512F.ShiftLeftLogical(r, 16).AsSingle();
            d = (r & hi).AsSingle();
            Row<TB>(e, d, x0 + k, xStride, ref a20, ref a21, ref a22, ref a23);
            r = Vector512.Load((uint*)(w3 + k));
            e = Avx512F.ShiftLeftLogical(r, 16).AsSingle();
            d = (r & hi).AsSingle();
            Row<TB>(e, d, x0 + k, xStride, ref a30, ref a31, ref a32, ref a33);
        }

        // Reduce before any call: accumulators live across a call would be spilled to the stack
        // on every loop iteration (zmm registers are caller-saved).
        Store(a00, a10, a20, a30, y);
        if (TB.Count > 1)
        {
            Store(a01, a11, a21, a31, y + yStride);
        }

        if (TB.Count > 2)
        {
            Store(a02, a12, a22, a32, y + 2 * yStride);
        }

        if (TB.Count > 3)
        {
            Store(a03, a13, a23, a33, y + 3 * yStride);
        }

        int tail = n - full;
        if (tail > 0)
        {
            for (int b = 0; b < TB.Count; b++)
            {
                float* xb = x + b * xStride + full;
                float* yb = y + b * yStride;
                yb[0] += DotScalar(w0 + full, xb, tail);
                yb[1] += DotScalar(w1 + full, xb, tail);
                yb[2] += DotScalar(w2 + full, xb, tail);
                yb[3] += DotScalar(w3 + full, xb, tail);
            }
        }
    }

    /// <summary>Accumulates one widened weight block (even lanes e, odd lanes d) into the
    /// accumulators of TB.Count batch rows whose lane-ordered activations start at x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Row<TB>(
        Vector512<float> e, Vector512<float> d, float* x, int xStride,
        ref Vector512<float> a0, ref Vector512<float> a1, ref Vector512<float> a2, ref Vector512<float> a3)
        where TB : struct, IBatchTile
    {
        a0 = Avx512F.FusedMultiplyAdd(d, Vector512.Load(x + 16), Avx512F.FusedMultiplyAdd(e, Vector512.Load(x), a0));
        if (TB.Count > 1)
        {
            x += xStride;
            a1 = Avx512F.FusedMultiplyAdd(d, Vector512.Load(x + 16), Avx512F.FusedMultiplyAdd(e, Vector512.Load(x), a1));
        }

        if (TB.Count > 2)
        {
            x += xStride;
            a2 = Avx512F.FusedMultiplyAdd(d, Vector512.Load(x + 16), Avx512F.FusedMultiplyAdd(e, Vector512.Load(x), a2));
        }

        if (TB.Count > 3)
        {
            x += xStride;
            a3 = Avx512F.FusedMultiplyAdd(d, Vector512.Load(x + 16), Avx512F.FusedMultiplyAdd(e, Vector512.Load(x), a3));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, float* y)
    {
        y[0] = Vector512.Sum(a0);
        y[1] = Vector512.Sum(a1);
        y[2] = Vector512.Sum(a2);
        y[3] = Vector512.Sum(a3);
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

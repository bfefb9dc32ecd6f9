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

        return Vector512.Sum(acc0 + acc1) + DotScalar(w + full, x + full, n - full);
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
        float* x0 = x, x1 = x + xStride, x2 = x1 + xStride, x3 = x2 + xStride;
        var hi = Vector512.Create(0xFFFF0000u);
        Vector512<float> a00 = default, a10 = default, a20 = default, a30 = default;
        Vector512<float> a01 = default, a11 = default, a21 = default, a31 = default;
        Vector512<float> a02 = default, a12 = default, a22 = default, a32 = default;
        Vector512<float> a03 = default, a13 = default, a23 = default, a33 = default;
        for (int k = 0; k < full; k += 32)
        {
            var r0 = Vector512.Load((uint*)(w0 + k));
            var r1 = Vector512.Load((uint*)(w1 + k));
            var r2 = Vector512.Load((uint*)(w2 + k));
            var r3 = Vector512.Load((uint*)(w3 + k));
            var e0 = Avx512F.ShiftLeftLogical(r0, 16).AsSingle();
            var d0 = (r0 & hi).AsSingle();
            var e1 = Avx512F.ShiftLeftLogical(r1, 16).AsSingle();
            var d1 = (r1 & hi).AsSingle();
            var e2 = Avx512F.ShiftLeftLogical(r2, 16).AsSingle();
            var d2 = (r2 & hi).AsSingle();
            var e3 = Avx512F.ShiftLeftLogical(r3, 16).AsSingle();
            var d3 = (r3 & hi).AsSingle();

            var xe = Vector512.Load(x0 + k);
            var xo = Vector512.Load(x0 + k + 16);
            a00 = Avx512F.FusedMultiplyAdd(d0, xo, Avx512F.FusedMultiplyAdd(e0, xe, a00));
            a10 = Avx512F.FusedMultiplyAdd(d1, xo, Avx512F.FusedMultiplyAdd(e1, xe, a10));
            a20 = Avx512F.FusedMultiplyAdd(d2, xo, Avx512F.FusedMultiplyAdd(e2, xe, a20));
            a30 = Avx512F.FusedMultiplyAdd(d3, xo, Avx512F.FusedMultiplyAdd(e3, xe, a30));
            if (TB.Count > 1)
            {
                xe = Vector512.Load(x1 + k);
                xo = Vector512.Load(x1 + k + 16);
                a01 = Avx512F.FusedMultiplyAdd(d0, xo, Avx512F.FusedMultiplyAdd(e0, xe, a01));
                a11 = Avx512F.FusedMultiplyAdd(d1, xo, Avx512F.FusedMultiplyAdd(e1, xe, a11));
                a21 = Avx512F.FusedMultiplyAdd(d2, xo, Avx512F.FusedMultiplyAdd(e2, xe, a21));
                a31 = Avx512F.FusedMultiplyAdd(d3, xo, Avx512F.FusedMultiplyAdd(e3, xe, a31));
            }

            if (TB.Count > 2)
            {
                xe = Vector512.Load(x2 + k);
                xo = Vector512.Load(x2 + k + 16);
                a02 = Avx512F.FusedMultiplyAdd(d0, xo, Avx512F.FusedMultiplyAdd(e0, xe, a02));
                a12 = Avx512F.FusedMultiplyAdd(d1, xo, Avx512F.FusedMultiplyAdd(e1, xe, a12));
                a22 = Avx512F.FusedMultiplyAdd(d2, xo, Avx512F.FusedMultiplyAdd(e2, xe, a22));
                a32 = Avx512F.FusedMultiplyAdd(d3, xo, Avx512F.FusedMultiplyAdd(e3, xe, a32));
            }

            if (TB.Count > 3)
            {
                xe = Vector512.Load(x3 + k);
                xo = Vector512.Load(x3 + k + 16);
                a03 = Avx512F.FusedMultiplyAdd(d0, xo, Avx512F.FusedMultiplyAdd(e0, xe, a03));
                a13 = Avx512F.FusedMultiplyAdd(d1, xo, Avx512F.FusedMultiplyAdd(e1, xe, a13));
                a23 = Avx512F.FusedMultiplyAdd(d2, xo, Avx512F.FusedMultiplyAdd(e2, xe, a23));
                a33 = Avx512F.FusedMultiplyAdd(d3, xo, Avx512F.FusedMultiplyAdd(e3, xe, a33));
            }
        }

        int tail = n - full;
        Finish(a00, a10, a20, a30, w0 + full, w1 + full, w2 + full, w3 + full, x0 + full, tail, y);
        if (TB.Count > 1)
        {
            Finish(a01, a11, a21, a31, w0 + full, w1 + full, w2 + full, w3 + full, x1 + full, tail, y + yStride);
        }

        if (TB.Count > 2)
        {
            Finish(a02, a12, a22, a32, w0 + full, w1 + full, w2 + full, w3 + full, x2 + full, tail, y + 2 * yStride);
        }

        if (TB.Count > 3)
        {
            Finish(a03, a13, a23, a33, w0 + full, w1 + full, w2 + full, w3 + full, x3 + full, tail, y + 3 * yStride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(
        Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3,
        ushort* w0, ushort* w1, ushort* w2, ushort* w3, float* x, int tail, float* y)
    {
        y[0] = Vector512.Sum(a0) + DotScalar(w0, x, tail);
        y[1] = Vector512.Sum(a1) + DotScalar(w1, x, tail);
        y[2] = Vector512.Sum(a2) + DotScalar(w2, x, tail);
        y[3] = Vector512.Sum(a3) + DotScalar(w3, x, tail);
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

using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>AVX2 fallback: 2 weight rows × 1 batch row per pass, lane-order blocks of 16.</summary>
public static unsafe partial class Bf16MatMul
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RowsAvx2(ref MatMulSegment s, int o0, int o1)
    {
        int full = s.In & ~15;
        int tail = s.In - full;
        var hi = Vector256.Create(0xFFFF0000u);
        int o = o0;
        for (; o + 2 <= o1; o += 2)
        {
            ushort* w0 = s.W + (long)o * s.In;
            ushort* w1 = w0 + s.In;
            for (int b = 0; b < s.Batch; b++)
            {
                float* x = s.X + (long)b * s.XStride;
                Vector256<float> a0 = default, a1 = default, c0 = default, c1 = default;
                for (int k = 0; k < full; k += 16)
                {
                    var xe = Vector256.Load(x + k);
                    var xo = Vector256.Load(x + k + 8);
                    var r0 = Vector256.Load((uint*)(w0 + k));
                    var r1 = Vector256.Load((uint*)(w1 + k));
                    a0 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(r0, 16).AsSingle(), xe, a0);
                    c0 = Fma.MultiplyAdd((r0 & hi).AsSingle(), xo, c0);
                    a1 = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(r1, 16).AsSingle(), xe, a1);
                    c1 = Fma.MultiplyAdd((r1 & hi).AsSingle(), xo, c1);
                }

                float* y = s.Y + (long)b * s.YStride + o;
                y[0] = Vector256.Sum(a0 + c0);
                y[1] = Vector256.Sum(a1 + c1);
                y[0] += DotScalar(w0 + full, x + full, tail);
                y[1] += DotScalar(w1 + full, x + full, tail);
            }
        }

        for (; o < o1; o++)
        {
            ushort* w = s.W + (long)o * s.In;
            for (int b = 0; b < s.Batch; b++)
            {
                float* x = s.X + (long)b * s.XStride;
                Vector256<float> a = default, c = default;
                for (int k = 0; k < full; k += 16)
                {
                    var r = Vector256.Load((uint*)(w + k));
                    a = Fma.MultiplyAdd(Avx2.ShiftLeftLogical(r, 16).AsSingle(), Vector256.Load(x + k), a);
                    c = Fma.MultiplyAdd((r & hi).AsSingle(), Vector256.Load(x + k + 8), c);
                }

                float sum = Vector256.Sum(a + c);
                s.Y[(long)b * s.YStride + o] = sum + DotScalar(w + full, x + full, tail);
            }
        }
    }
}

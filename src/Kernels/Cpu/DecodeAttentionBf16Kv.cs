using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>bf16 key/value rows (the bits of the high half of an fp32), widened to fp32 in registers.</summary>
internal readonly unsafe struct DecodeAttentionBf16Kv : IDecodeAttentionKv
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

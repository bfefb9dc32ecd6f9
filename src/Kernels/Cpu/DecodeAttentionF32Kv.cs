using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>fp32 key/value rows: loaded in column order, so there is nothing to unpermute.</summary>
internal readonly unsafe struct DecodeAttentionF32Kv : IDecodeAttentionKv
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

using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// Per calling thread scratch memory for the kernels (reordered activations, intermediate
/// results, job descriptors). Pinned arrays, grown on demand and kept for the thread's lifetime,
/// so a decode step allocates nothing. Pointers stay valid until the next <c>Floats</c>/<c>Segments</c>
/// call on the same thread.
/// </summary>
internal static unsafe class KernelScratch
{
    [ThreadStatic]
    private static float[]? t_floats;

    [ThreadStatic]
    private static float[]? t_operands;

    [ThreadStatic]
    private static float[]? t_results;

    [ThreadStatic]
    private static MatMulSegment[]? t_segments;

    /// <summary>At least <paramref name="count"/> floats, 64-byte aligned.</summary>
    public static float* Floats(long count) => Aligned(ref t_floats, count);

    /// <summary>
    /// A second and third buffer, for a caller that stages a kernel's operands and results (<see cref="Bf16Linear"/>
    /// widens bf16 activations into one and rounds the kernel's fp32 output from the other): the kernels themselves use
    /// only <see cref="Floats"/>, so these stay valid across a kernel call.
    /// </summary>
    public static float* Operands(long count) => Aligned(ref t_operands, count);

    /// <inheritdoc cref="Operands"/>
    public static float* Results(long count) => Aligned(ref t_results, count);

    private static float* Aligned(ref float[]? buffer, long count)
    {
        long needed = count + 16;
        if (buffer is null || buffer.LongLength < needed)
        {
            long size = Math.Max(needed, (buffer?.LongLength ?? 0) * 3 / 2);
            buffer = GC.AllocateUninitializedArray<float>(checked((int)size), pinned: true);
        }

        float* p = (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)(((nint)p + 63) & ~(nint)63);
    }

    /// <summary>At least <paramref name="count"/> segment descriptors.</summary>
    public static MatMulSegment* Segments(int count)
    {
        if (t_segments is null || t_segments.Length < count)
        {
            t_segments = GC.AllocateUninitializedArray<MatMulSegment>(Math.Max(count, 16), pinned: true);
        }

        return (MatMulSegment*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(t_segments));
    }
}

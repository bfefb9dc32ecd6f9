using System.Runtime.Intrinsics;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// The element type of the key and value rows a <see cref="DecodeAttentionBlock"/> reads
/// (<see cref="DecodeAttentionBf16Kv"/>, <see cref="DecodeAttentionF32Kv"/>): a static-abstract
/// generic argument, so each kernel is compiled once per type with the loads inlined.
/// </summary>
internal unsafe interface IDecodeAttentionKv
{
    static abstract int Size { get; }

    /// <summary>Elements <c>[i, i + 16)</c> of the row at <paramref name="row"/> as fp32.</summary>
    static abstract Vector512<float> Load16(byte* row, int i);

    static abstract float Load1(byte* row, int i);

    /// <summary>Elements <c>[i, i + 32)</c> as fp32 in two vectors, in the lane order of
    /// <see cref="DecodeAttentionBlock.PermuteQ"/>: bf16 gives the even elements in <paramref name="x"/> and the odd ones
    /// in <paramref name="y"/>; fp32 gives them in order.</summary>
    static abstract void Load32(byte* row, int i, out Vector512<float> x, out Vector512<float> y);

    /// <summary>Puts 32 floats summed in <see cref="Load32"/>'s lane order back in column order.</summary>
    static abstract void Unpermute(float* o);
}

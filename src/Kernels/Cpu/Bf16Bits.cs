using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// bf16 ↔ fp32 on raw bits for the CPU kernels, scalar and 8 or 16 lanes at a time. Widening is exact; narrowing rounds
/// to nearest even, as libtorch's casts do, and turns NaN into the quiet NaN 0x7FC0 (libtorch's scalar cast).
/// </summary>
internal static unsafe class Bf16Bits
{
    public static float ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>fp32 → bf16 bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ushort Round(float value)
    {
        if (float.IsNaN(value)) return 0x7FC0;
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1)) >> 16);
    }

    /// <summary>The value rounded to bf16, still as fp32.</summary>
    public static float RoundValue(float value) => ToSingle(Round(value));

    /// <summary>bf16 → fp32 (exact) for <paramref name="count"/> elements.</summary>
    public static void Widen(ushort* source, float* destination, long count)
    {
        long full = Vector256.IsHardwareAccelerated ? count & ~7L : 0;
        for (long i = 0; i < full; i += 8) Load8(source + i).Store(destination + i);
        for (long i = full; i < count; i++) destination[i] = ToSingle(source[i]);
    }

    /// <summary>fp32 → bf16 for <paramref name="count"/> elements.</summary>
    public static void Round(float* source, ushort* destination, long count)
    {
        long full = Vector256.IsHardwareAccelerated ? count & ~7L : 0;
        for (long i = 0; i < full; i += 8) Store8(destination + i, RoundValues(Vector256.Load(source + i)));
        for (long i = full; i < count; i++) destination[i] = Round(source[i]);
    }

    public static Vector256<float> Load8(ushort* p) =>
        (Vector256.WidenLower(Vector128.Load(p).ToVector256Unsafe()) << 16).AsSingle();

    public static Vector512<float> Load16(ushort* p) =>
        (Vector512.WidenLower(Vector256.Load(p).ToVector512Unsafe()) << 16).AsSingle();

    /// <summary>The values rounded to bf16, still as fp32: the low 16 bits cleared.</summary>
    public static Vector256<float> RoundValues(Vector256<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = (bits + Vector256.Create(0x7FFFu) + ((bits >> 16) & Vector256<uint>.One)) & Vector256.Create(0xFFFF0000u);
        var number = Vector256.Equals(v, v).AsUInt32(); // all ones where v is not NaN
        return Vector256.ConditionalSelect(number, rounded, Vector256.Create(0x7FC00000u)).AsSingle();
    }

    /// <inheritdoc cref="RoundValues(Vector256{float})"/>
    public static Vector512<float> RoundValues(Vector512<float> v)
    {
        var bits = v.AsUInt32();
        var rounded = (bits + Vector512.Create(0x7FFFu) + ((bits >> 16) & Vector512<uint>.One)) & Vector512.Create(0xFFFF0000u);
        var number = Vector512.Equals(v, v).AsUInt32();
        return Vector512.ConditionalSelect(number, rounded, Vector512.Create(0x7FC00000u)).AsSingle();
    }

    /// <summary>Stores values already rounded by <see cref="RoundValues(Vector256{float})"/> as bf16 bits.</summary>
    public static void Store8(ushort* p, Vector256<float> roundedValues)
    {
        var high = roundedValues.AsUInt32() >> 16;
        Vector128.Narrow(high.GetLower(), high.GetUpper()).Store(p);
    }

    /// <inheritdoc cref="Store8"/>
    public static void Store16(ushort* p, Vector512<float> roundedValues)
    {
        var high = roundedValues.AsUInt32() >> 16;
        Vector256.Narrow(high.GetLower(), high.GetUpper()).Store(p);
    }
}

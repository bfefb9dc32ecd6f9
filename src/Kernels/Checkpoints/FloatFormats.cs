using System.Runtime.InteropServices;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// Scalar encodings of the checkpoint element types, done in C# so that the results do not depend on
/// the torch build (TorchSharp has no FP8 type at all).
/// </summary>
public static class FloatFormats
{
    /// <summary>Largest finite FP8 E4M3 (fn) value.</summary>
    public const float E4M3Max = 448f;

    private static readonly float[] E4M3Table = BuildE4M3Table();

    // The 127 non-negative finite E4M3 codes 0x00..0x7E in increasing order of value.
    private static readonly float[] E4M3Positive = E4M3Table[..0x7F];

    public static float BFloat16ToSingle(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>fp32 → bf16 with round-to-nearest-even (what torch's <c>.to(bfloat16)</c> does); NaN stays NaN.</summary>
    public static ushort SingleToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x0040);
        uint lsb = (bits >> 16) & 1;
        return (ushort)((bits + 0x7FFFu + lsb) >> 16);
    }

    public static float HalfToSingle(ushort bits) => (float)BitConverter.UInt16BitsToHalf(bits);

    public static ushort SingleToHalf(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    /// <summary>FP8 E4M3 fn: sign, 4 exponent bits (bias 7), 3 mantissa bits; no infinities; S.1111.111 is NaN.</summary>
    public static float E4M3ToSingle(byte bits) => E4M3Table[bits];

    /// <summary>
    /// fp32 → FP8 E4M3 fn, round to nearest (ties to the even code), saturating at ±448 as the
    /// per-row quantisers do (they scale rows into range first); NaN → 0x7F.
    /// </summary>
    public static byte SingleToE4M3(float value)
    {
        if (float.IsNaN(value)) return 0x7F;
        byte sign = (byte)(value < 0 || (value == 0 && float.IsNegative(value)) ? 0x80 : 0);
        float a = MathF.Abs(value);
        if (a >= E4M3Max) return (byte)(sign | 0x7E);
        int hi = Array.BinarySearch(E4M3Positive, a);
        if (hi >= 0) return (byte)(sign | hi);
        hi = ~hi; // first code above a; hi >= 1 because a >= 0 = E4M3Positive[0]
        int lo = hi - 1;
        float dLo = a - E4M3Positive[lo], dHi = E4M3Positive[hi] - a;
        int code = dLo < dHi ? lo : dHi < dLo ? hi : ((lo & 1) == 0 ? lo : hi);
        return (byte)(sign | code);
    }

    /// <summary>FP8 E5M2: the top byte of an IEEE binary16.</summary>
    public static float E5M2ToSingle(byte bits) => HalfToSingle((ushort)(bits << 8));

    /// <summary>Decodes little-endian elements of a float or integer type to fp32.</summary>
    public static void DecodeToSingle(SafetensorsDType dtype, ReadOnlySpan<byte> source, Span<float> destination)
    {
        int size = SafetensorsDTypes.ElementSize(dtype);
        if (source.Length != destination.Length * size)
            throw new ArgumentException($"{source.Length} bytes of {dtype} do not hold {destination.Length} elements", nameof(source));
        switch (dtype)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.Cast<byte, float>(source).CopyTo(destination);
                break;
            case SafetensorsDType.BF16:
            {
                var s = MemoryMarshal.Cast<byte, ushort>(source);
                for (int i = 0; i < s.Length; i++) destination[i] = BFloat16ToSingle(s[i]);
                break;
            }
            case SafetensorsDType.F16:
            {
                var s = MemoryMarshal.Cast<byte, ushort>(source);
                for (int i = 0; i < s.Length; i++) destination[i] = HalfToSingle(s[i]);
                break;
            }
            case SafetensorsDType.F64:
            {
                var s = MemoryMarshal.Cast<byte, double>(source);
                for (int i = 0; i < s.Length; i++) destination[i] = (float)s[i];
                break;
            }
            case SafetensorsDType.F8_E4M3:
                for (int i = 0; i < source.Length; i++) destination[i] = E4M3Table[source[i]];
                break;
            case SafetensorsDType.F8_E5M2:
                for (int i = 0; i < source.Length; i++) destination[i] = E5M2ToSingle(source[i]);
                break;
            case SafetensorsDType.BOOL:
            case SafetensorsDType.U8:
                for (int i = 0; i < source.Length; i++) destination[i] = source[i];
                break;
            case SafetensorsDType.I8:
                for (int i = 0; i < source.Length; i++) destination[i] = (sbyte)source[i];
                break;
            case SafetensorsDType.I16:
            {
                var s = MemoryMarshal.Cast<byte, short>(source);
                for (int i = 0; i < s.Length; i++) destination[i] = s[i];
                break;
            }
            case SafetensorsDType.I32:
            {
                var s = MemoryMarshal.Cast<byte, int>(source);
                for (int i = 0; i < s.Length; i++) destination[i] = s[i];
                break;
            }
            case SafetensorsDType.I64:
            {
                var s = MemoryMarshal.Cast<byte, long>(source);
                for (int i = 0; i < s.Length; i++) destination[i] = s[i];
                break;
            }
            default:
                throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null);
        }
    }

    /// <summary>Encodes fp32 values as little-endian BF16 (round-to-nearest-even), F16, F32 or F8_E4M3 bytes.</summary>
    public static byte[] EncodeFromSingle(SafetensorsDType dtype, ReadOnlySpan<float> values)
    {
        var bytes = new byte[checked(values.Length * SafetensorsDTypes.ElementSize(dtype))];
        switch (dtype)
        {
            case SafetensorsDType.F32:
                MemoryMarshal.Cast<float, byte>(values).CopyTo(bytes);
                break;
            case SafetensorsDType.BF16:
            {
                var d = MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan());
                for (int i = 0; i < values.Length; i++) d[i] = SingleToBFloat16(values[i]);
                break;
            }
            case SafetensorsDType.F16:
            {
                var d = MemoryMarshal.Cast<byte, ushort>(bytes.AsSpan());
                for (int i = 0; i < values.Length; i++) d[i] = SingleToHalf(values[i]);
                break;
            }
            case SafetensorsDType.F8_E4M3:
                for (int i = 0; i < values.Length; i++) bytes[i] = SingleToE4M3(values[i]);
                break;
            default:
                throw new ArgumentException($"encoding fp32 values as {dtype} is not supported; use BF16, F16, F32 or F8_E4M3", nameof(dtype));
        }
        return bytes;
    }

    private static float[] BuildE4M3Table()
    {
        var table = new float[256];
        for (int b = 0; b < 256; b++)
        {
            int exp = (b >> 3) & 0xF, man = b & 0x7;
            float magnitude = exp == 0xF && man == 0x7
                ? float.NaN
                : exp == 0
                    ? man / 8f * MathF.Pow(2, -6)      // subnormal: 0.mmm × 2^(1-7)
                    : (1 + man / 8f) * MathF.Pow(2, exp - 7);
            table[b] = (b & 0x80) != 0 ? -magnitude : magnitude;
        }
        return table;
    }
}

using System.Runtime.Intrinsics;

namespace Llama4Cluster.Core.Sampling;

/// <summary>
/// The vocabulary-wide passes of the sampler with <see cref="Vector256{T}"/> (8 floats): exp is about 5x faster than
/// a <see cref="MathF.Exp"/> loop, and the exp loop was most of an unvectorized call at V = 202,048.
/// </summary>
/// <remarks>
/// The width is fixed at 256 bits rather than <c>Vector&lt;float&gt;</c>, and the last partial vector goes through the
/// same vector code (padded on the stack) instead of a scalar tail. So every element's exp comes from one algorithm,
/// whatever the machine's vector width: a seeded request gives the same tokens on AVX2 and AVX-512 hosts (on hardware
/// without 256-bit vectors .NET emulates them with the same element-wise math).
/// </remarks>
internal static class VectorMath
{
    private const int Width = 8;

    /// <summary>
    /// exp(0) as <see cref="ExpShifted"/> computes it: 1.00000012f, not 1 (Vector256.Exp is accurate to about 1 ulp).
    /// The weight of every token whose logit equals the shift, i.e. of the most probable tokens.
    /// </summary>
    public static readonly float ExpOfZero = Vector256.Exp(Vector256<float>.Zero).ToScalar();

    /// <summary>
    /// The maximum of <paramref name="values"/>, or the index of the first NaN or ±Infinity in
    /// <paramref name="firstNonFinite"/> (-1 when all are finite). Finiteness is tested as <c>x * 0 == 0</c>, which fails
    /// exactly for NaN and ±Infinity.
    /// </summary>
    public static float MaxOrFirstNonFinite(ReadOnlySpan<float> values, out int firstNonFinite)
    {
        var i = 0;
        var max = Vector256.Create(float.NegativeInfinity);
        var zero = Vector256<float>.Zero;
        var poisoned = zero;
        for (; i <= values.Length - Width; i += Width)
        {
            var v = Vector256.Create(values.Slice(i, Width));
            max = Vector256.Max(max, v);
            poisoned += v * zero;
        }

        var result = float.NegativeInfinity;
        for (var lane = 0; lane < Width; lane++)
        {
            result = Math.Max(result, max[lane]);
        }

        var finite = Vector256.EqualsAll(poisoned, zero);
        for (; i < values.Length; i++)
        {
            finite &= float.IsFinite(values[i]);
            result = Math.Max(result, values[i]);
        }

        firstNonFinite = -1;
        if (!finite)
        {
            for (var j = 0; j < values.Length; j++)
            {
                if (!float.IsFinite(values[j]))
                {
                    firstNonFinite = j;
                    break;
                }
            }
        }

        return result;
    }

    /// <summary>In place: <c>values[i] = exp(values[i] - shift)</c>. -Infinity becomes 0.</summary>
    public static void ExpShifted(Span<float> values, float shift)
    {
        var s = Vector256.Create(shift);
        var i = 0;
        for (; i <= values.Length - Width; i += Width)
        {
            var slice = values.Slice(i, Width);
            Vector256.Exp(Vector256.Create(slice) - s).CopyTo(slice);
        }

        if (i < values.Length)
        {
            var tail = values[i..];
            Span<float> padded = stackalloc float[Width];
            padded.Fill(shift);
            tail.CopyTo(padded);
            var result = Vector256.Exp(Vector256.Create(padded) - s);
            for (var lane = 0; lane < tail.Length; lane++)
            {
                tail[lane] = result[lane];
            }
        }
    }

    /// <summary>
    /// <c>sum(exp(values[i] - shift))</c> with the exps as in <see cref="ExpShifted"/> and a double accumulator per lane
    /// (202,048 fp32 terms would lose about 5 bits in a float sum).
    /// </summary>
    public static double SumExpShifted(ReadOnlySpan<float> values, float shift)
    {
        var s = Vector256.Create(shift);
        var lower = Vector256<double>.Zero;
        var upper = Vector256<double>.Zero;
        var i = 0;
        for (; i <= values.Length - Width; i += Width)
        {
            var (lo, hi) = Vector256.Widen(Vector256.Exp(Vector256.Create(values.Slice(i, Width)) - s));
            lower += lo;
            upper += hi;
        }

        var sum = Vector256.Sum(lower) + Vector256.Sum(upper);
        if (i < values.Length)
        {
            Span<float> padded = stackalloc float[Width];
            padded.Fill(float.NegativeInfinity);
            values[i..].CopyTo(padded);
            var (lo, hi) = Vector256.Widen(Vector256.Exp(Vector256.Create(padded) - s));
            sum += Vector256.Sum(lo) + Vector256.Sum(hi);
        }

        return sum;
    }

    /// <summary>In place: ±Infinity becomes ±<see cref="float.MaxValue"/>.</summary>
    public static void ClampToFinite(Span<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = Math.Clamp(values[i], -float.MaxValue, float.MaxValue);
        }
    }

    /// <summary>Sum in id order with a double accumulator (the sampler's draw accumulates in the same order).</summary>
    public static double Sum(ReadOnlySpan<float> values)
    {
        var sum = 0.0;
        foreach (var x in values)
        {
            sum += x;
        }

        return sum;
    }
}

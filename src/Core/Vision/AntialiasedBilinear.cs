using System.Numerics;
using System.Runtime.InteropServices;

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// torch's antialiased bilinear resize (<c>F.interpolate(mode="bilinear", antialias=True, align_corners=False)</c>, what
/// torchvision's <c>resize</c> runs for the HF processor), in managed float32 with torch's CPU operation order: a
/// separable triangle filter whose support widens by the scale factor when downscaling, the horizontal pass first, then the
/// vertical one, then rounding half to even to 8 bits (torchvision returns uint8 for uint8 input).
/// </summary>
/// <remarks>
/// Weights follow <c>_compute_indices_min_size_weights_aa</c> in <c>aten/src/ATen/native/cpu/UpSampleKernel.cpp</c>,
/// including its mixed float32/float64 expressions, so the taps and their float32 values are torch's. Each output value is
/// <c>Σⱼ input[start + j] · w[j]</c> accumulated in float32 in tap order, as torch's generic kernel does; vectorising across
/// pixels changes no per-pixel order. torch's uint8 AVX2 kernel (fixed-point weights) can differ from this by one level on a
/// few pixels, as PIL's (META's) resize can.
/// </remarks>
internal static class AntialiasedBilinear
{
    /// <summary>The taps of a 1-D resize from <see cref="InputSize"/> to <see cref="OutputSize"/> samples.</summary>
    internal sealed class Weights
    {
        public required int InputSize { get; init; }
        public required int OutputSize { get; init; }
        /// <summary>First input sample of output i.</summary>
        public required int[] Start { get; init; }
        /// <summary>Number of taps of output i (≤ <see cref="MaxTaps"/>).</summary>
        public required int[] Count { get; init; }
        /// <summary><c>[OutputSize, MaxTaps]</c>, normalised to sum 1 per output.</summary>
        public required float[] Values { get; init; }
        public required int MaxTaps { get; init; }
    }

    /// <summary>
    /// The taps of torch's antialiased bilinear filter (interp_size 2, align_corners False, no explicit scale). Equal sizes
    /// give the identity (one tap of weight 1), which is what torch does by skipping the dimension.
    /// </summary>
    internal static Weights ComputeWeights(int inputSize, int outputSize)
    {
        if (inputSize == outputSize)
        {
            var start = new int[outputSize];
            var count = new int[outputSize];
            var values = new float[outputSize];
            for (int i = 0; i < outputSize; i++) (start[i], count[i], values[i]) = (i, 1, 1f);
            return new Weights { InputSize = inputSize, OutputSize = outputSize, Start = start, Count = count, Values = values, MaxTaps = 1 };
        }

        // area_pixel_compute_scale<float>: (float)input / output.
        float scale = (float)inputSize / outputSize;
        // support = (interp_size * 0.5) * scale when downscaling (double product, stored as float).
        float support = scale >= 1.0f ? (float)(1.0 * scale) : 1.0f;
        int maxTaps = (int)Math.Ceiling((double)support) * 2 + 1;
        float invScale = scale >= 1.0f ? (float)(1.0 / scale) : 1.0f;

        var starts = new int[outputSize];
        var counts = new int[outputSize];
        var w = new float[outputSize * maxTaps];
        for (int i = 0; i < outputSize; i++)
        {
            float center = (float)(scale * (i + 0.5));
            long xmin = Math.Max((long)(center - support + 0.5), 0L);
            long xsize = Math.Min((long)(center + support + 0.5), inputSize) - xmin;
            xsize = Math.Clamp(xsize, 0, maxTaps);

            var row = w.AsSpan(i * maxTaps, maxTaps);
            float total = 0f;
            for (int j = 0; j < xsize; j++)
            {
                // (j + xmin - center): int64 − float → float; + 0.5 → double; · invscale → double; filter takes float.
                float x = (float)(((float)(j + xmin) - center + 0.5) * invScale);
                float v = Filter(x);
                row[j] = v;
                total += v;
            }
            if (total != 0f)
                for (int j = 0; j < xsize; j++) row[j] /= total;

            starts[i] = (int)xmin;
            counts[i] = (int)xsize;
        }
        return new Weights { InputSize = inputSize, OutputSize = outputSize, Start = starts, Count = counts, Values = w, MaxTaps = maxTaps };
    }

    /// <summary>The triangle (bilinear) filter: <c>1 − |x|</c> inside (−1, 1), else 0 (computed in double, stored as float).</summary>
    private static float Filter(float x)
    {
        x = Math.Abs(x);
        return x < 1.0f ? (float)(1.0 - x) : 0f;
    }

    /// <summary>
    /// Horizontal pass over rows [<paramref name="rowStart"/>, <paramref name="rowEnd"/>): 8-bit interleaved RGB rows of
    /// <paramref name="horizontal"/>.InputSize pixels into float rows of <paramref name="horizontal"/>.OutputSize pixels.
    /// </summary>
    internal static void ResizeRows(ReadOnlySpan<byte> source, Span<float> destination, Weights horizontal, int rowStart, int rowEnd)
    {
        int inRow = horizontal.InputSize * 3, outRow = horizontal.OutputSize * 3, taps = horizontal.MaxTaps;
        var w = horizontal.Values;
        for (int y = rowStart; y < rowEnd; y++)
        {
            var src = source.Slice(y * inRow, inRow);
            var dst = destination.Slice(y * outRow, outRow);
            for (int x = 0; x < horizontal.OutputSize; x++)
            {
                int start = horizontal.Start[x] * 3, count = horizontal.Count[x], wi = x * taps;
                float r = 0f, g = 0f, b = 0f;
                for (int j = 0; j < count; j++)
                {
                    float wj = w[wi + j];
                    int s = start + 3 * j;
                    r += src[s] * wj;
                    g += src[s + 1] * wj;
                    b += src[s + 2] * wj;
                }
                dst[3 * x] = r;
                dst[3 * x + 1] = g;
                dst[3 * x + 2] = b;
            }
        }
    }

    /// <summary>
    /// Vertical pass for output row <paramref name="y"/>: <c>Σⱼ rows[start + j] · w[j]</c> over whole interleaved rows of
    /// <paramref name="rowLength"/> floats, accumulated per value in tap order (multiply, then add: no fused multiply-add,
    /// as torch's scalar kernel).
    /// </summary>
    internal static void ResizeColumn(ReadOnlySpan<float> rows, Span<float> output, Weights vertical, int y, int rowLength)
    {
        int start = vertical.Start[y], count = vertical.Count[y], wi = y * vertical.MaxTaps;
        output = output[..rowLength];
        output.Clear();
        for (int j = 0; j < count; j++)
        {
            float wj = vertical.Values[wi + j];
            var src = rows.Slice((start + j) * rowLength, rowLength);
            int i = 0;
            if (Vector.IsHardwareAccelerated)
            {
                var vw = new Vector<float>(wj);
                var srcV = MemoryMarshal.Cast<float, Vector<float>>(src);
                var dstV = MemoryMarshal.Cast<float, Vector<float>>(output);
                for (int k = 0; k < srcV.Length; k++) dstV[k] += srcV[k] * vw;
                i = srcV.Length * Vector<float>.Count;
            }
            for (; i < rowLength; i++) output[i] += src[i] * wj;
        }
    }
}

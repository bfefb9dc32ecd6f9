using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static Llama4Cluster.Kernels.Cpu.Bf16Bits;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// RMS norm and RoPE for bf16 activations on the CPU, one pass over each row in C#. The libtorch form of either is 7–12
/// elementwise ops (casts, products, a reduction, a stack), each a native call with its own tensor allocation: at decode
/// shapes (one row of 2048 values) those calls, not the arithmetic, are the cost, about a fifth of a bench-0.8b decode
/// step. Each row is computed alone, in a fixed order, so a row's result does not depend on how many rows share the call
/// (batch-invariant by construction).
/// </summary>
/// <remarks>
/// The arithmetic is the libtorch form's, rounding for rounding: RoPE rounds each product to fp32 before the sum or
/// difference (no fused multiply-add, as <c>even·cos − odd·sin</c> over separate tensors), so its result is bit-identical;
/// the norm squares in fp32, sums (8 lanes, then across them), divides by the width, adds eps and takes
/// <c>1 / √·</c>, then casts <c>x·inv</c> to bf16 before the weight multiply, as the reference does; only its summation
/// order differs from libtorch's reduction, which moves the mean by at most an fp32 rounding.
/// </remarks>
public static unsafe class Bf16RowKernels
{
    /// <summary>
    /// <c>bf16(x32 · rsqrt(mean(x32²) + eps))</c>, times <paramref name="weight"/> (rounded to bf16 again) when one is
    /// given, over the last dimension of <paramref name="x"/>. Null when the operands are not contiguous bf16 CPU
    /// tensors (the caller then takes libtorch's path).
    /// </summary>
    public static torch.Tensor? RmsNorm(torch.Tensor x, torch.Tensor? weight, double eps)
    {
        ArgumentNullException.ThrowIfNull(x);
        if (!IsCpuBf16(x) || !x.is_contiguous()) return null;
        var shape = x.shape; // one native call (each read of Tensor.shape is another)
        if (shape.Length < 1 || shape[^1] == 0) return null;
        int d = checked((int)shape[^1]);
        if (weight is not null && (!IsCpuBf16(weight) || !weight.is_contiguous() || weight.NumberOfElements != d)) return null;
        long rows = x.NumberOfElements / d;
        var y = torch.empty(shape, dtype: torch.bfloat16, device: torch.CPU);
        ushort* px = (ushort*)TensorData.Pointer(x), py = (ushort*)TensorData.Pointer(y);
        ushort* pw = weight is null ? null : (ushort*)TensorData.Pointer(weight);
        for (long r = 0; r < rows; r++)
            NormRow(px + r * d, pw, py + r * d, d, (float)eps);
        GC.KeepAlive(x);
        GC.KeepAlive(weight);
        return y;
    }

    /// <summary>
    /// RoPE on interleaved pairs of <paramref name="x"/> <c>[T, heads, hd]</c> (bf16, any row and head strides, unit
    /// element stride) with fp32 <paramref name="cos"/>/<paramref name="sin"/> <c>[T, hd/2]</c>: <c>u'[2i] = u[2i]·cos −
    /// u[2i+1]·sin</c>, <c>u'[2i+1] = u[2i]·sin + u[2i+1]·cos</c> in fp32, cast to bf16, into a new contiguous tensor.
    /// Null when the operands do not fit (the caller takes libtorch's path).
    /// </summary>
    public static torch.Tensor? Rope(torch.Tensor x, torch.Tensor cos, torch.Tensor sin)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(cos);
        ArgumentNullException.ThrowIfNull(sin);
        if (!IsCpuBf16(x)) return null;
        var shape = x.shape;
        if (shape.Length != 3 || x.stride(2) != 1 || shape[2] % 2 != 0) return null;
        long t = shape[0], heads = shape[1];
        int hd = checked((int)shape[2]);
        foreach (var table in (ReadOnlySpan<torch.Tensor>)[cos, sin])
        {
            if (table.device_type != DeviceType.CPU || table.dtype != torch.float32 || !table.is_contiguous()) return null;
            var tableShape = table.shape;
            if (tableShape.Length != 2 || tableShape[0] != t || tableShape[1] != hd / 2) return null;
        }

        var y = torch.empty(shape, dtype: torch.bfloat16, device: torch.CPU);
        ushort* px = (ushort*)TensorData.Pointer(x), py = (ushort*)TensorData.Pointer(y);
        float* pc = (float*)TensorData.Pointer(cos), ps = (float*)TensorData.Pointer(sin);
        long rowStride = x.stride(0), headStride = x.stride(1);
        for (long i = 0; i < t; i++)
        {
            for (long h = 0; h < heads; h++)
                RopeRow(px + i * rowStride + h * headStride, pc + i * (hd / 2), ps + i * (hd / 2), py + (i * heads + h) * hd, hd);
        }

        GC.KeepAlive(x);
        GC.KeepAlive(cos);
        GC.KeepAlive(sin);
        return y;
    }

    private static bool IsCpuBf16(torch.Tensor t) => t.device_type == DeviceType.CPU && t.dtype == torch.bfloat16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void NormRow(ushort* x, ushort* w, ushort* y, int d, float eps)
    {
        int full = Vector256.IsHardwareAccelerated ? d & ~7 : 0;
        var acc = Vector256<float>.Zero;
        for (int i = 0; i < full; i += 8)
        {
            var v = Load8(x + i);
            acc += v * v; // the square rounded to fp32, then added: libtorch squares in one op and sums in another
        }

        float sum = Vector256.Sum(acc);
        for (int i = full; i < d; i++)
        {
            float v = ToSingle(x[i]);
            sum += v * v;
        }

        float inv = 1f / MathF.Sqrt(sum / d + eps);
        var vinv = Vector256.Create(inv);
        for (int i = 0; i < full; i += 8)
        {
            var n = RoundValues(Load8(x + i) * vinv);
            if (w is not null) n = RoundValues(n * Load8(w + i));
            Store8(y + i, n);
        }

        for (int i = full; i < d; i++)
        {
            ushort n = Round(ToSingle(x[i]) * inv);
            y[i] = w is null ? n : Round(ToSingle(n) * ToSingle(w[i]));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RopeRow(ushort* x, float* cos, float* sin, ushort* y, int hd)
    {
        // Four pairs at a time: u = [e0, o0, e1, o1, …], its pair-swap [o0, e0, …], cos and sin each repeated per pair;
        // u·cos + (±1)·(swap·sin) is e·c − o·s in even lanes and o·c + e·s in odd ones, each product rounded first.
        int full = Vector256.IsHardwareAccelerated ? hd & ~7 : 0;
        var swap = Vector256.Create(1, 0, 3, 2, 5, 4, 7, 6);
        var repeat = Vector256.Create(0, 0, 1, 1, 2, 2, 3, 3);
        var sign = Vector256.Create(-1f, 1f, -1f, 1f, -1f, 1f, -1f, 1f);
        for (int k = 0; k < full; k += 8)
        {
            var u = Load8(x + k);
            var c = Vector256.Shuffle(Vector128.Load(cos + k / 2).ToVector256Unsafe(), repeat);
            var s = Vector256.Shuffle(Vector128.Load(sin + k / 2).ToVector256Unsafe(), repeat);
            var straight = u * c;
            var crossed = Vector256.Shuffle(u, swap) * s;
            Store8(y + k, RoundValues(straight + crossed * sign));
        }

        for (int i = full / 2; i < hd / 2; i++)
        {
            float e = ToSingle(x[2 * i]), o = ToSingle(x[2 * i + 1]);
            float c = cos[i], s = sin[i];
            // Each product rounded to fp32 before the sum, as libtorch's separate mul and sub/add ops round them.
            float ec = e * c, os = o * s, es = e * s, oc = o * c;
            y[2 * i] = Round(ec - os);
            y[2 * i + 1] = Round(es + oc);
        }
    }
}

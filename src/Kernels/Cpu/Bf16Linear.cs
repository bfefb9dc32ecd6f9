using TorchSharp;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// <c>nn.functional.linear</c> without bias for bf16 weights, routed to <see cref="Bf16MatMul"/>
/// at decode batch sizes on CPU, where libtorch's bf16 GEMV streams weights at about a quarter of
/// the memory bandwidth (see docs/PERFORMANCE.md).
/// </summary>
public static unsafe class Bf16Linear
{
    /// <summary>
    /// <c>y = x·Wᵀ</c>, x <c>[..., In]</c> fp32 or bf16, W <c>[Out, In]</c>; y <c>[..., Out]</c> in
    /// x's dtype. Uses the CPU kernel when x and W are on the CPU, W is contiguous bf16, x is
    /// fp32/bf16 with at most <paramref name="maxRows"/> rows and no gradient is
    /// wanted; otherwise <c>torch.nn.functional.linear</c> (x cast to W's dtype and back).
    /// </summary>
    public static torch.Tensor Linear(torch.Tensor x, torch.Tensor weight, CpuWorkerPool? pool = null, int maxRows = Bf16MatMul.MaxDecodeBatch)
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        using var scope = torch.NewDisposeScope();
        torch.Tensor y = CanUseKernel(x, weight, maxRows) ? Kernel(x, weight, pool) : Fallback(x, weight);
        return y.MoveToOuterDisposeScope();
    }

    /// <summary>Whether <see cref="Linear"/> takes the kernel path for these operands.</summary>
    public static bool CanUseKernel(torch.Tensor x, torch.Tensor weight, int maxRows = Bf16MatMul.MaxDecodeBatch)
    {
        if (x.device_type != DeviceType.CPU || weight.device_type != DeviceType.CPU
            || weight.dtype != torch.bfloat16 || weight.dim() != 2 || !weight.is_contiguous()
            || (x.dtype != torch.float32 && x.dtype != torch.bfloat16) || x.dim() < 1)
        {
            return false;
        }

        if (torch.is_grad_enabled() && (x.requires_grad || weight.requires_grad))
        {
            return false;
        }

        long inF = weight.shape[1];
        if (x.shape[^1] != inF || inF == 0 || inF > int.MaxValue || weight.shape[0] > int.MaxValue)
        {
            return false;
        }

        return x.NumberOfElements / inF <= maxRows;
    }

    private static torch.Tensor Kernel(torch.Tensor x, torch.Tensor weight, CpuWorkerPool? pool)
    {
        int inF = (int)weight.shape[1];
        int outF = (int)weight.shape[0];
        int batch = (int)(x.NumberOfElements / inF);
        var shape = x.shape.ToArray();
        shape[^1] = outF;
        if (x.dtype == torch.bfloat16 && x.is_contiguous())
        {
            // bf16 activations: widened and the result rounded here, in C#, instead of two libtorch casts per call (a
            // decode step makes ~45 of these calls). The rounding is libtorch's (to nearest even), so the result is the same.
            long inCount = (long)batch * inF, outCount = (long)batch * outF;
            float* xs = KernelScratch.Operands(inCount), ys = KernelScratch.Results(outCount);
            Bf16Bits.Widen((ushort*)TensorData.Pointer(x), xs, inCount);
            Bf16MatMul.Multiply(xs, (ushort*)TensorData.Pointer(weight), ys, batch, inF, outF, pool);
            var rounded = torch.empty(shape, dtype: torch.bfloat16, device: torch.CPU);
            Bf16Bits.Round(ys, (ushort*)TensorData.Pointer(rounded), outCount);
            GC.KeepAlive(x);
            GC.KeepAlive(weight);
            return rounded;
        }

        var xf = (x.dtype == torch.float32 ? x : x.to(torch.float32)).contiguous();
        var y = torch.empty(shape, dtype: torch.float32, device: torch.CPU);
        Bf16MatMul.Multiply(
            (float*)TensorData.Pointer(xf), (ushort*)TensorData.Pointer(weight), (float*)TensorData.Pointer(y),
            batch, inF, outF, pool);
        // The kernel read raw pointers: keep the tensors (and their storage) alive until here.
        GC.KeepAlive(xf);
        GC.KeepAlive(weight);
        return x.dtype == torch.float32 ? y : y.to(x.dtype);
    }

    private static torch.Tensor Fallback(torch.Tensor x, torch.Tensor weight)
    {
        if (x.dtype == weight.dtype)
        {
            return torch.nn.functional.linear(x, weight);
        }

        return torch.nn.functional.linear(x.to(weight.dtype), weight).to(x.dtype);
    }
}

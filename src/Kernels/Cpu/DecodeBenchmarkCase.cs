namespace Llama4Cluster.Kernels.Cpu;

/// <summary>One decode case of <see cref="DecodeBenchmark"/>: weight bytes streamed per second
/// (10⁹ bytes/s, median call) by the kernel and by the TorchSharp path doing the same math.</summary>
/// <param name="Name">What ran, e.g. <c>moe-top1</c> or <c>linear</c>.</param>
/// <param name="Batch">Tokens per call.</param>
/// <param name="WeightBytesPerCall">Distinct weight bytes one call must read.</param>
/// <param name="KernelGBps">This library's kernel.</param>
/// <param name="TorchGBps">libtorch (bf16 <c>linear</c>, with index_select/silu/index_add for MoE).</param>
/// <param name="BandwidthGBps">The run's memory-read bandwidth (copied for the ratios).</param>
public sealed record DecodeBenchmarkCase(
    string Name, int Batch, long WeightBytesPerCall, double KernelGBps, double TorchGBps, double BandwidthGBps)
{
    /// <summary>Kernel weight streaming ÷ memory bandwidth (goal ≥ 0.7).</summary>
    public double KernelToBandwidth => KernelGBps / BandwidthGBps;

    /// <summary>Kernel ÷ libtorch: the speed-up over TorchSharp's own path.</summary>
    public double KernelToTorch => KernelGBps / TorchGBps;
}

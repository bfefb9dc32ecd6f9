namespace Llama4Cluster.Kernels.Cpu;

/// <summary>The outcome of <see cref="DecodeBenchmark.Run"/>; all figures from one process and run.</summary>
/// <param name="Options">What was run.</param>
/// <param name="Isa">The kernel instruction set (Avx512, Avx2 or Scalar).</param>
/// <param name="BandwidthGBps">Memory read, Vector512 sum on the kernel pool (median of passes).</param>
/// <param name="BandwidthBestGBps">The best pass of the same probe.</param>
/// <param name="TorchSumGBps">Memory read through libtorch's <c>tensor.sum()</c> (best pass).</param>
/// <param name="Cases">MoE layer and plain linear, at batch 1 and 8.</param>
public sealed record DecodeBenchmarkResult(
    DecodeBenchmarkOptions Options,
    string Isa,
    double BandwidthGBps,
    double BandwidthBestGBps,
    double TorchSumGBps,
    IReadOnlyList<DecodeBenchmarkCase> Cases);

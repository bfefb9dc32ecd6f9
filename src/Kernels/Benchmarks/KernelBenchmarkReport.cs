namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>The result of one <see cref="KernelBenchmark"/> run.</summary>
public sealed record KernelBenchmarkReport(
    string Machine, int Threads, double BandwidthGBps, double TorchSumGBps, string Shape, IReadOnlyList<KernelBenchmarkRow> Rows);

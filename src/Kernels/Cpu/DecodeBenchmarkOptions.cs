namespace Llama4Cluster.Kernels.Cpu;

/// <summary>Shape and effort of <see cref="DecodeBenchmark.Run"/>. The default MoE layer
/// (hidden 4096, 8 experts of intermediate 2048, 48 MiB of bf16 per expert) keeps every
/// measured call's weights out of the last-level cache: consecutive calls use different experts.</summary>
/// <param name="Hidden">D.</param>
/// <param name="Intermediate">F of each expert.</param>
/// <param name="Experts">Routed experts in the layer (top-1 routing).</param>
/// <param name="Threads">Kernel pool threads, and libtorch's thread count for the comparison.</param>
/// <param name="Iterations">Timed calls per case (the median is reported).</param>
/// <param name="BandwidthBytes">Size of the memory-read probe.</param>
public sealed record DecodeBenchmarkOptions(
    int Hidden = 4096,
    int Intermediate = 2048,
    int Experts = 8,
    int Threads = 2,
    int Iterations = 24,
    long BandwidthBytes = MemoryBandwidth.DefaultBytes);

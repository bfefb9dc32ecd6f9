namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>
/// What <see cref="KernelBenchmark"/> measures. The default MoE shape is the peer's model in
/// docs/PERFORMANCE.md (hidden 2048, 16 experts top-1 + shared, expert width 1024); a checkpoint's first
/// MoE layer replaces it when <see cref="ModelDirectory"/> is set.
/// </summary>
public sealed record KernelBenchmarkOptions
{
    public string? ModelDirectory { get; init; }
    public int Hidden { get; init; } = 2048;
    public int Intermediate { get; init; } = 1024;
    public int Experts { get; init; } = 16;
    public int TopK { get; init; } = 1;
    public int[] DecodeBatches { get; init; } = [1, 8];
    public int PrefillTokens { get; init; } = 2048;
    public int[] AttentionContexts { get; init; } = [1024, 8192];
    /// <summary>Attention shape of the decode-attention case (Scout/Maverick: 40 heads, 8 KV heads, hd 128).</summary>
    public int Heads { get; init; } = 40;
    public int KvHeads { get; init; } = 8;
    public int HeadDim { get; init; } = 128;
    /// <summary>Seconds spent per measured case (after warm-up); the median of timed batches is reported.</summary>
    public double SecondsPerCase { get; init; } = 1.5;
    public int? Threads { get; init; }
}

using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>Settings of <see cref="PrefixCacheBenchmark"/>.</summary>
public sealed record PrefixCacheBenchmarkOptions
{
    /// <summary>A checkpoint directory; null: a random-weight checkpoint of <see cref="Preset"/> written to a temporary directory.</summary>
    public string? ModelDirectory { get; init; }

    public string Preset { get; init; } = "bench-0.7b";

    /// <summary>Tokens of the shared system prompt.</summary>
    public int SystemTokens { get; init; } = 2048;

    /// <summary>Tokens of each request's own user turn after it.</summary>
    public int UserTokens { get; init; } = 32;

    /// <summary>Cold/cached pairs measured (each with a system prompt of its own); the medians are reported.</summary>
    public int Rounds { get; init; } = 3;

    public torch.ScalarType ComputeDType { get; init; } = torch.ScalarType.BFloat16;

    public torch.Device Device { get; init; } = torch.CPU;

    public int? Threads { get; init; }

    /// <summary>The engine's step budget (prompts are prefilled in chunks of it, as the gateway does).</summary>
    public int MaxStepTokens { get; init; } = 512;

    public PrefixCacheOptions PrefixCache { get; init; } = PrefixCacheOptions.Default;
}

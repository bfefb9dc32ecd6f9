using TorchSharp;

namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>Settings of <see cref="BatchBenchmark"/> (<c>llama4 bench batch</c>).</summary>
public sealed record BatchBenchmarkOptions
{
    public required string ModelDirectory { get; init; }

    /// <summary>Batch sizes measured, in this order: B sequences prefilled together, then decoded together.</summary>
    public IReadOnlyList<int> Batches { get; init; } = [1, 8, 32];

    /// <summary>Prompt tokens per sequence (each sequence its own random prompt).</summary>
    public int PromptTokens { get; init; } = 128;

    /// <summary>Decode steps, each feeding one token of every sequence.</summary>
    public int GenTokens { get; init; } = 64;

    /// <summary>The compute dtype, resolved (<c>auto</c> is resolved by the caller against the checkpoint).</summary>
    public torch.ScalarType ComputeDType { get; init; } = torch.ScalarType.BFloat16;

    public torch.Device Device { get; init; } = torch.CPU;

    /// <summary>Torch intra-op threads; null: one per core.</summary>
    public int? Threads { get; init; }

    /// <summary>Seed of the random prompts: the same seed draws the same prompts.</summary>
    public int Seed { get; init; }

    /// <summary>Run a small batch through the engine before measuring, so no measurement pays for first-call costs.</summary>
    public bool WarmUp { get; init; } = true;

    /// <summary>The engine's step budget: prompts are prefilled in steps of at most this many tokens, as the gateway does.</summary>
    public int MaxStepTokens { get; init; } = 512;

    /// <summary>Batch-invariant bf16 kernels (<see cref="Model.ModelOptions.BatchInvariant"/>).</summary>
    public bool BatchInvariant { get; init; }
}

using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>Settings of a <see cref="LocalEngine"/>.</summary>
public sealed record LocalEngineOptions
{
    public torch.ScalarType ComputeDType { get; init; } = torch.ScalarType.Float32;
    public torch.Device Device { get; init; } = torch.CPU;

    /// <summary>Torch intra-op threads; null = one per core. Several processes on one host should split the cores.</summary>
    public int? Threads { get; init; }

    /// <summary>Most tokens (prefill chunks plus decode tokens) in one step; long prompts are prefilled in chunks.</summary>
    public int MaxStepTokens { get; init; } = 512;

    /// <summary>How the experts run (<see cref="MoeExecutors.Choose"/>): fused for bf16 CPU weights unless
    /// <see cref="LocalMoeStrategy.Grouped"/> asks for the cluster's arithmetic.</summary>
    public LocalMoeStrategy LocalMoe { get; init; } = LocalMoeStrategy.Auto;

    /// <summary>The engine's prefix cache (KV of shared prompt prefixes kept across <see cref="LocalEngine.GenerateAsync"/>
    /// calls and reused): on by default; <see cref="PrefixCacheOptions.Disabled"/> computes every token.</summary>
    public PrefixCacheOptions PrefixCache { get; init; } = PrefixCacheOptions.Default;

    /// <summary>Pipeline stages the one rank is split into, in this process (<see cref="LayerRange.Split"/>): the cluster's
    /// staged rank without the network, for equivalence checks. More than one stage runs without a prefix cache.</summary>
    public int Stages { get; init; } = 1;

    /// <summary>bf16 with batch-invariant kernels (<see cref="ModelOptions.BatchInvariant"/>): greedy output the same alone,
    /// in any batch and after a re-prefill. No effect in float32.</summary>
    public bool BatchInvariant { get; init; }
}

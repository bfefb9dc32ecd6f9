using Llama4Cluster.Kernels.Sampling;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>One sequence to generate: its prompt token ids and how to sample.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptTokens, SamplingParams Sampling);

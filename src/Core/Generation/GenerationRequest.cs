using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Generation;

/// <summary>One sequence to generate: its prompt token ids and how to sample.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptTokens, SamplingParams Sampling);

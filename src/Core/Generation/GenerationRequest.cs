using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Generation;

/// <summary>One sequence to generate: its prompt token ids, how to sample, and an optional structured-output constraint.</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptTokens, SamplingParams Sampling, GuidanceSpec? Guidance = null);

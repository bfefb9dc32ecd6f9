using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Gateway.Api;

/// <summary>One sequence to submit: choice <paramref name="Index"/> of the response, generated from prompt
/// <paramref name="PromptIndex"/> with <paramref name="Sampling"/>.</summary>
internal sealed record PlannedSequence(int Index, int PromptIndex, SamplingParams Sampling);

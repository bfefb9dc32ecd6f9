using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Generation;

/// <summary>
/// A finished sequence: the generated token ids (a stop token that ended it is not included), each
/// token's sampling details, and why it stopped.
/// </summary>
public sealed record GenerationResult(IReadOnlyList<int> Tokens, IReadOnlyList<SampledToken> Details, FinishReason FinishReason, int? StopTokenId);

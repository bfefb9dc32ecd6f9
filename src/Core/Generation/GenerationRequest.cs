using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Generation;

/// <summary>One sequence to generate: its prompt token ids, how to sample, an optional structured-output constraint, and the
/// prompt's images in prompt order (their features fill its <c>&lt;|patch|&gt;</c> positions).</summary>
public sealed record GenerationRequest(IReadOnlyList<int> PromptTokens, SamplingParams Sampling, GuidanceSpec? Guidance = null,
    IReadOnlyList<ImageTiles>? Images = null);

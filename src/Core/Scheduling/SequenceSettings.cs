using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// What an attention rank needs to start a sequence: how to sample it and which ids end it (the sampler's stop set is
/// <see cref="SamplingParams.StopTokenIds"/> plus these unless <see cref="SamplingParams.IgnoreEos"/>).
/// </summary>
/// <param name="Sampling">The sequence's sampling parameters (the scheduler fixes a seed for every non-greedy sequence).</param>
/// <param name="EosTokenIds">The model's end-of-sequence ids.</param>
/// <param name="GeneratedTokens">0 for a new sequence. A sequence resumed on another rank after a failover is re-prefilled
/// with its prompt followed by the tokens it has generated: the last <paramref name="GeneratedTokens"/> of the tokens fed
/// before its first sample are output already emitted (the penalties' history), and its sampler's generator is advanced
/// past their draws, so sampling continues exactly as without the fault (a guided sequence's grammar is advanced over them
/// too).</param>
/// <param name="Guidance">The structured-output constraint the rank's sampler enforces, or null.</param>
/// <param name="Images">The prompt's images in prompt order, or null: the rank's vision tower encodes them and their features
/// take the places of the prompt's <c>&lt;|patch|&gt;</c> tokens, in order, during prefill (spec §5.4). A re-prefill after a
/// failover carries them again.</param>
public sealed record SequenceSettings(SamplingParams Sampling, IReadOnlyList<int> EosTokenIds, int GeneratedTokens = 0, GuidanceSpec? Guidance = null,
    IReadOnlyList<ImageTiles>? Images = null);

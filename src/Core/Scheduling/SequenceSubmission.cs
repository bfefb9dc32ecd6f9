using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// One sequence to generate. <see cref="SamplingParams.MaxTokens"/> bounds it; the model's EOS ids and
/// <see cref="SamplingParams.StopTokenIds"/> end it (the stop token is not emitted).
/// </summary>
/// <param name="PromptTokens">The prompt's token ids (chat template already applied).</param>
/// <param name="Sampling">How to sample; validated by <see cref="IGenerationScheduler.Submit"/>.</param>
/// <param name="Timeout">Longest time from submission to the last token; null: the scheduler's default.</param>
/// <param name="CancellationToken">Cancelled when the client goes away: the sequence is dropped at the next step
/// and its capacity freed.</param>
/// <param name="Guidance">A structured-output constraint (checked by <see cref="IGenerationScheduler.Submit"/>), or null.</param>
/// <param name="Images">The prompt's images in prompt order (preprocessed), or null: their tiles' features fill the prompt's
/// <c>&lt;|patch|&gt;</c> positions; <see cref="IGenerationScheduler.Submit"/> checks the counts match.</param>
public sealed record SequenceSubmission(
    IReadOnlyList<int> PromptTokens,
    SamplingParams Sampling,
    TimeSpan? Timeout = null,
    CancellationToken CancellationToken = default,
    GuidanceSpec? Guidance = null,
    IReadOnlyList<ImageTiles>? Images = null);

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// What the scheduler checks a submission against: the vocabulary (an id outside it would fail its rank's whole step),
/// the longest prompt + completion, and the ids that end a sequence.
/// </summary>
/// <param name="VocabSize">Token ids run from 0 to <c>VocabSize - 1</c>.</param>
/// <param name="MaxModelLength">Longest prompt + max tokens, in tokens.</param>
/// <param name="EosTokenIds">Ids that end a sequence unless <see cref="Sampling.SamplingParams.IgnoreEos"/> is set.</param>
/// <param name="Vision">The image input the model takes; null: it has no vision tower and a submission with images is refused.</param>
public sealed record ModelLimits(int VocabSize, int MaxModelLength, IReadOnlyList<int> EosTokenIds, Vision.VisionInputs? Vision = null);

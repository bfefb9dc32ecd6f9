using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// What a rank step produced: one sample per sequence that asked for one, in step order, and, when some sequence asked
/// for them, the fp32 logits of those sequences' positions as rows of <see cref="LogitRows"/> × vocabulary. A sequence
/// whose own sampling failed (the step itself succeeded) is in <see cref="Failures"/> instead of <see cref="Samples"/>:
/// the rank has dropped its state, and it ends alone, never failing the others of the step.
/// </summary>
public sealed record RankStepResult(IReadOnlyList<SequenceSample> Samples, float[]? Logits = null, int LogitRows = 0,
    IReadOnlyList<SequenceFailure>? Failures = null);

/// <summary>One sequence of a step whose sampling failed, with the rank's message.</summary>
public sealed record SequenceFailure(long SequenceId, string Error);

/// <summary>The token sampled for one sequence in a step.</summary>
public sealed record SequenceSample(long SequenceId, SampledToken Token);

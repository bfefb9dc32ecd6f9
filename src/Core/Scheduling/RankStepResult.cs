using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// What a rank step produced: one sample per sequence that asked for one, in step order, and, when some sequence asked
/// for them, the fp32 logits of those sequences' positions as rows of <see cref="LogitRows"/> × vocabulary. A sequence
/// whose own sampling failed (the step itself succeeded) is in <see cref="Failures"/> instead of <see cref="Samples"/>:
/// the rank has dropped its state, and it ends alone, never failing the others of the step. <see cref="CacheHits"/> says, per
/// sequence whose new tokens the rank took (in part) from its prefix cache instead of computing them, how many.
/// </summary>
public sealed record RankStepResult(IReadOnlyList<SequenceSample> Samples, float[]? Logits = null, int LogitRows = 0,
    IReadOnlyList<SequenceFailure>? Failures = null, IReadOnlyList<PrefixCacheHit>? CacheHits = null);

/// <summary>Tokens of one sequence's step that its rank restored from the prefix cache rather than computed.</summary>
public sealed record PrefixCacheHit(long SequenceId, int Tokens);

/// <summary>One sequence of a step whose sampling failed, with the rank's message.</summary>
public sealed record SequenceFailure(long SequenceId, string Error);

/// <summary>The token sampled for one sequence in a step.</summary>
public sealed record SequenceSample(long SequenceId, SampledToken Token);

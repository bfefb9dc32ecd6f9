using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// What a rank step produced: one sample per sequence that asked for one, in step order, and, when some sequence asked
/// for them, the fp32 logits of those sequences' positions as rows of <see cref="LogitRows"/> × vocabulary.
/// </summary>
public sealed record RankStepResult(IReadOnlyList<SequenceSample> Samples, float[]? Logits = null, int LogitRows = 0);

/// <summary>The token sampled for one sequence in a step.</summary>
public sealed record SequenceSample(long SequenceId, SampledToken Token);

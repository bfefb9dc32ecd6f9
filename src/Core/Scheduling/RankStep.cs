namespace Llama4Cluster.Core.Scheduling;

/// <summary>One engine step on one attention rank: the sequences it advances, in order.</summary>
/// <param name="Step">The scheduler's step number (the same on every rank of the step).</param>
public sealed record RankStep(long Step, IReadOnlyList<SequenceWork> Sequences);

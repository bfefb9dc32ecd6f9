namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// What <see cref="ContinuousBatchScheduler"/> drives: attention ranks, each holding the KV caches and samplers of the
/// sequences assigned to it. In one process it is the local backend over an attention-rank core; in the cluster, the
/// attention grains. The scheduler calls <see cref="StepAsync"/> at most once at a time per rank, and every rank of a
/// step at once.
/// </summary>
public interface IStepBackend
{
    /// <summary>Attention ranks, numbered 0 to <c>Ranks - 1</c>.</summary>
    int Ranks { get; }

    /// <summary>
    /// One engine step on <paramref name="rank"/>: every sequence's new tokens; one sample per sequence that asked, in
    /// step order. When it throws, the rank has dropped the state of every sequence of the step.
    /// </summary>
    Task<RankStepResult> StepAsync(int rank, RankStep step, CancellationToken cancellationToken);

    /// <summary>Drops the KV caches and samplers of ended sequences on <paramref name="rank"/>; unknown ids are ignored.</summary>
    Task ReleaseAsync(int rank, IReadOnlyList<long> sequenceIds);

    /// <summary>Completes when <paramref name="rank"/> answers (after one of its steps failed); throws when it cannot. In the
    /// cluster this also re-activates a rank whose silo died on a surviving silo. The caller bounds the wait.</summary>
    Task ProbeAsync(int rank, CancellationToken cancellationToken);
}

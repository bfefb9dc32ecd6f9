using System.Collections.Immutable;
using Llama4Cluster.Contracts.Attention;

namespace Llama4Cluster.Gateway.Scheduling;

/// <summary>
/// What <see cref="ContinuousBatchScheduler"/> drives: the cluster's attention ranks, each holding the KV caches and
/// samplers of the sequences assigned to it (the protocol of <see cref="IAttentionGrain"/>). The scheduler calls
/// <see cref="StepAsync"/> at most once at a time per rank, and every rank of a step at once.
/// </summary>
public interface IStepBackend
{
    /// <summary>Attention ranks, numbered 0 to <c>Ranks - 1</c>.</summary>
    int Ranks { get; }

    /// <summary>
    /// One engine step on <paramref name="rank"/>: every sequence's new tokens; one sample per sequence that asked, in
    /// request order. When it throws, the rank has dropped the state of every sequence of the request.
    /// </summary>
    Task<StepResponse> StepAsync(int rank, StepRequest request, CancellationToken cancellationToken);

    /// <summary>Drops the KV caches and samplers of ended sequences on <paramref name="rank"/>; unknown ids are ignored.</summary>
    Task ReleaseAsync(int rank, ImmutableArray<long> sequenceIds);
}

using System.Collections.Immutable;
using Llama4Cluster.Contracts.Attention;

namespace Llama4Cluster.Gateway.Scheduling;

/// <summary>
/// <see cref="IStepBackend"/> over the cluster: rank <c>r</c> is the <see cref="IAttentionGrain"/> with key <c>r</c>
/// (the placement plan's rank numbering). The gateway reaches it as an Orleans client; it never references the silo code.
/// </summary>
public sealed class ClusterStepBackend : IStepBackend
{
    private readonly IGrainFactory _grains;
    private readonly IAttentionGrain?[] _ranks;

    public ClusterStepBackend(IGrainFactory grains, int attentionRanks)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentOutOfRangeException.ThrowIfLessThan(attentionRanks, 1);
        // References are made on first use: an Orleans client resolves the grain type from the cluster's manifest, which
        // it has only once connected (the gateway's client may still be waiting for the silos when this is built).
        _grains = grains;
        _ranks = new IAttentionGrain?[attentionRanks];
    }

    public int Ranks => _ranks.Length;

    public Task<StepResponse> StepAsync(int rank, StepRequest request, CancellationToken cancellationToken) =>
        Rank(rank).StepAsync(request, cancellationToken);

    public Task ReleaseAsync(int rank, ImmutableArray<long> sequenceIds) => Rank(rank).ReleaseAsync(sequenceIds);

    private IAttentionGrain Rank(int rank)
    {
        if ((uint)rank >= (uint)_ranks.Length)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"the cluster has attention ranks 0 to {_ranks.Length - 1}");
        return _ranks[rank] ??= _grains.GetGrain<IAttentionGrain>(rank);
    }
}

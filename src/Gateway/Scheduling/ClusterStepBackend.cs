using System.Collections.Immutable;
using Llama4Cluster.Contracts.Attention;

namespace Llama4Cluster.Gateway.Scheduling;

/// <summary>
/// <see cref="IStepBackend"/> over the cluster: rank <c>r</c> is the <see cref="IAttentionGrain"/> with key <c>r</c>
/// (the placement plan's rank numbering). The gateway reaches it as an Orleans client; it never references the silo code.
/// </summary>
public sealed class ClusterStepBackend : IStepBackend
{
    private readonly IAttentionGrain[] _ranks;

    public ClusterStepBackend(IGrainFactory grains, int attentionRanks)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentOutOfRangeException.ThrowIfLessThan(attentionRanks, 1);
        // Grain references are plain values: making them needs no connection to the cluster.
        _ranks = new IAttentionGrain[attentionRanks];
        for (int r = 0; r < attentionRanks; r++) _ranks[r] = grains.GetGrain<IAttentionGrain>(r);
    }

    public int Ranks => _ranks.Length;

    public Task<StepResponse> StepAsync(int rank, StepRequest request, CancellationToken cancellationToken) =>
        Rank(rank).StepAsync(request, cancellationToken);

    public Task ReleaseAsync(int rank, ImmutableArray<long> sequenceIds) => Rank(rank).ReleaseAsync(sequenceIds);

    private IAttentionGrain Rank(int rank)
    {
        if ((uint)rank >= (uint)_ranks.Length)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"the cluster has attention ranks 0 to {_ranks.Length - 1}");
        return _ranks[rank];
    }
}

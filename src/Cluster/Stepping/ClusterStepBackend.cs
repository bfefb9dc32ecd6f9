using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Cluster.Stepping;

/// <summary>
/// <see cref="IStepBackend"/> over the cluster: rank <c>r</c> is the <see cref="IAttentionGrain"/> with key <c>r</c> (the
/// placement plan's rank numbering), reached through any <see cref="IGrainFactory"/> (an Orleans client, or a silo's own).
/// Steps travel in their wire form (<see cref="StepMessages"/>).
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
        // it has only once connected (a gateway's client may still be waiting for the silos when this is built).
        _grains = grains;
        _ranks = new IAttentionGrain?[attentionRanks];
    }

    public int Ranks => _ranks.Length;

    public async Task<RankStepResult> StepAsync(int rank, RankStep step, CancellationToken cancellationToken) =>
        StepMessages.FromWire(await Rank(rank).StepAsync(StepMessages.ToWire(step), cancellationToken));

    public Task ReleaseAsync(int rank, IReadOnlyList<long> sequenceIds) => Rank(rank).ReleaseAsync([.. sequenceIds]);

    /// <summary>Asks the rank's grain to describe itself: Orleans activates it on a surviving silo when its silo has died
    /// (once membership has declared that silo dead), which loads its weights there.</summary>
    public Task ProbeAsync(int rank, CancellationToken cancellationToken) => Rank(rank).DescribeAsync().WaitAsync(cancellationToken);

    /// <summary>The grain of <paramref name="rank"/>.</summary>
    public IAttentionGrain Rank(int rank)
    {
        if ((uint)rank >= (uint)_ranks.Length)
            throw new ArgumentOutOfRangeException(nameof(rank), rank, $"the cluster has attention ranks 0 to {_ranks.Length - 1}");
        return _ranks[rank] ??= _grains.GetGrain<IAttentionGrain>(rank);
    }
}

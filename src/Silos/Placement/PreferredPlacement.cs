using Llama4Cluster.Cluster.Placement;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Llama4Cluster.Silos.Placement;

/// <summary>
/// Where <see cref="ExpertPlacementDirector"/> would place a grain now, without a plan: the same spread over the active
/// silos whose role can hold it. A grain that was re-activated elsewhere after a silo died asks this to learn that a
/// restarted or new silo is now its place, and moves back when moving costs nothing (<see cref="Experts.ExpertShardGrain"/>:
/// a replica whose sibling is live on the same silo; <see cref="Attention.AttentionGrain"/>: a rank with no sequences).
/// </summary>
public sealed class PreferredPlacement(IPlacementPlanProvider plans, IClusterMembershipService membership, ISiloMetadataCache metadata,
    ILocalSiloDetails local)
{
    /// <summary>The silo <paramref name="key"/>'s grain belongs on now when that is not this silo; else null.</summary>
    public SiloAddress? ElsewhereThan(PlacementKey key) => For(key) is { } preferred && !preferred.Equals(local.SiloAddress) ? preferred : null;

    /// <summary>The silo the director would choose for <paramref name="key"/> now; null with a plan (the plan decides) or
    /// when no active silo's role can hold it.</summary>
    public SiloAddress? For(PlacementKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (plans.Current is not null) return null;
        bool experts = key.Kind == PlacementKind.ExpertShard;
        var pool = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress)
            .Where(s => experts ? ExpertPlacementDirector.RoleOf(metadata, s).HoldsExperts() : ExpertPlacementDirector.RoleOf(metadata, s).HoldsAttention())
            .ToArray();
        return pool.Length == 0 ? null : ExpertPlacementDirector.Spread(key, pool);
    }
}

using Orleans.Runtime;

using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>
/// Places expert-shard and attention-rank grains on the silo the <see cref="PlacementPlan"/> names for their key
/// (<see cref="PlacementKey"/>). Put <see cref="ExpertPlacementAttribute"/> on the grain class; the director is
/// <see cref="ExpertPlacementDirector"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.ExpertPlacement")]
public sealed class ExpertPlacement : PlacementStrategy
{
    public static ExpertPlacement Singleton { get; } = new();
}

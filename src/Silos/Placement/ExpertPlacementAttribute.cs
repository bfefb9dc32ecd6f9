using Orleans.Placement;

using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>Marks a grain class as placed by <see cref="ExpertPlacement"/>: on the silo the placement plan names for its key.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false)]
public sealed class ExpertPlacementAttribute() : PlacementAttribute(ExpertPlacement.Singleton);

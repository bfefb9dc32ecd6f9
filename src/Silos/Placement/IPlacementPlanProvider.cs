using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>The plan the silo places grains by. Read on every placement decision, so keep it cheap (no grain calls).</summary>
public interface IPlacementPlanProvider
{
    /// <summary>The current plan, or null while none is loaded.</summary>
    PlacementPlan? Current { get; }
}

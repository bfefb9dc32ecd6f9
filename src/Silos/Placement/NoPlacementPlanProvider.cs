using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>No plan: planned grains are spread over the compatible silos and experts split evenly (the default).</summary>
public sealed class NoPlacementPlanProvider : IPlacementPlanProvider
{
    public PlacementPlan? Current => null;
}

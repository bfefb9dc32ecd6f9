using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>A plan fixed at start-up (computed from the model config and the configured inventory).</summary>
public sealed class StaticPlacementPlanProvider(PlacementPlan plan) : IPlacementPlanProvider
{
    public PlacementPlan? Current { get; } = plan ?? throw new ArgumentNullException(nameof(plan));
}

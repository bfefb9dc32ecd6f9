using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>A plan provider an in-process cluster fixture fills once its silos' endpoints are known (before any grain
/// activates), shared by every silo of the fixture.</summary>
internal sealed class SettablePlanProvider : IPlacementPlanProvider
{
    public PlacementPlan? Current { get; set; }
}

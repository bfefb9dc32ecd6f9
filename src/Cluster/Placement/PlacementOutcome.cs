using System.Diagnostics.CodeAnalysis;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>The planner's answer: a plan, or why there is none. Both are answers, not errors.</summary>
public sealed record PlacementOutcome
{
    private PlacementOutcome(ModelFootprint footprint, PlacementPlan? plan, PlacementShortfall? shortfall)
    {
        Footprint = footprint;
        Plan = plan;
        Shortfall = shortfall;
    }

    public ModelFootprint Footprint { get; }
    public PlacementPlan? Plan { get; }
    public PlacementShortfall? Shortfall { get; }

    [MemberNotNullWhen(true, nameof(Plan))]
    [MemberNotNullWhen(false, nameof(Shortfall))]
    public bool Fits => Plan is not null;

    public static PlacementOutcome Fit(PlacementPlan plan) => new(plan.Footprint, plan, null);

    public static PlacementOutcome NoFit(ModelFootprint footprint, PlacementShortfall shortfall) => new(footprint, null, shortfall);

    public override string ToString() => Fits ? $"fits: {Plan.Summary}" : Shortfall.Message;
}

using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Model;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Silos.Placement;

/// <summary>
/// Takes what the placement plan file (<c>--plan</c>, <c>Llama4:PlacementPlanFile</c>) decides about the ranks' shape, so
/// every silo started with the same plan runs it the same way: the pipeline stage count when the plan's ranks are staged
/// and <c>Llama4:Stages</c> was left at 1 (the plan's stage layer ranges are the runtime's cut, checked when the plan is
/// read), and shared experts as shards when the plan places them so and <c>Llama4:SharedExperts</c> was left at its
/// default (<c>rank</c>). A <c>--stages</c> that disagrees with a staged plan, or <c>--shared-experts shards</c> with a plan
/// that keeps them on the ranks, is refused at start by <see cref="ClusterModelOptionsValidator"/>; an unreadable plan is
/// left to it too.
/// </summary>
internal sealed class PlanFileConfiguration : IPostConfigureOptions<ClusterModelOptions>
{
    public void PostConfigure(string? name, ClusterModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrWhiteSpace(options.PlacementPlanFile) || Read(options.PlacementPlanFile) is not { } plan) return;
        if (options.Stages == 1) options.Stages = plan.StagesPerRank;
        if (options.SharedExperts == SharedExpertPlacement.Rank) options.SharedExperts = plan.SharedExperts;
    }

    /// <summary>The plan in <paramref name="path"/>; null when it cannot be read.</summary>
    private static PlacementPlan? Read(string path)
    {
        try
        {
            return PlacementPlanJson.Load(path);
        }
        catch (PlacementPlanFileException)
        {
            return null;
        }
    }
}

using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Model;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Silos.Placement;

/// <summary>
/// Takes the pipeline stage count from the placement plan file (<c>--plan</c>, <c>Llama4:PlacementPlanFile</c>) when its
/// ranks are staged and <c>Llama4:Stages</c> was left at 1, so every silo started with the same plan runs the same stages
/// (the plan's stage layer ranges are the runtime's cut, checked when the plan is read). A <c>--stages</c> that disagrees
/// with a staged plan is refused at start by <see cref="ClusterModelOptionsValidator"/>; an unreadable plan is left to it too.
/// </summary>
internal sealed class PlanStagesConfiguration : IPostConfigureOptions<ClusterModelOptions>
{
    public void PostConfigure(string? name, ClusterModelOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Stages != 1 || string.IsNullOrWhiteSpace(options.PlacementPlanFile)) return;
        if (PlannedStages(options.PlacementPlanFile) is { } stages) options.Stages = stages;
    }

    /// <summary>The stages per rank of the plan in <paramref name="path"/>; null when it cannot be read.</summary>
    internal static int? PlannedStages(string path)
    {
        try
        {
            return PlacementPlanJson.Load(path).StagesPerRank;
        }
        catch (PlacementPlanFileException)
        {
            return null;
        }
    }
}

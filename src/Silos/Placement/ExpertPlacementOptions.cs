using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>Options of <see cref="ExpertPlacementDirector"/>, bound from the <c>Llama4:Placement</c> configuration section.</summary>
public sealed class ExpertPlacementOptions
{
    public const string SectionName = "Llama4:Placement";

    /// <summary>Default <see cref="PlannedSiloMissing.Fail"/>: a shard on the wrong silo would not have the memory the plan gave it.</summary>
    public PlannedSiloMissing WhenPlannedSiloMissing { get; set; } = PlannedSiloMissing.Fail;

    /// <summary>How long placement waits for the grain manifest of a silo that has joined the membership but whose manifest this
    /// silo has not fetched yet (default 10 s); zero places at once among the silos known so far.</summary>
    public TimeSpan ManifestWait { get; set; } = TimeSpan.FromSeconds(10);
}

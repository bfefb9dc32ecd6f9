namespace Llama4Cluster.Cluster.Placement;

/// <summary>What <see cref="ExpertPlacementDirector"/> does when the silo the plan names is not among the compatible silos.</summary>
public enum PlannedSiloMissing
{
    /// <summary>Fail the activation with a message naming the planned silo and the silos there are.</summary>
    Fail,
    /// <summary>
    /// Place on another compatible silo, preferring silos of the plan's inventory with a suitable role, chosen by a
    /// stable hash of the grain key. Only safe when that silo has the memory; the planned layout is lost.
    /// </summary>
    AnyCompatible,
}

using Orleans.Runtime.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>Moving a grain to the silo the director now prefers for it.</summary>
public static class GrainMoves
{
    /// <summary>
    /// Migrates <paramref name="grain"/> to <paramref name="target"/> once it is idle: Orleans deactivates it, re-activates it
    /// there (the director honours the placement hint) and updates the grain directory in one step. Deactivating it and
    /// letting the next call re-activate it would not do: a caller whose cached address still names this silo re-creates
    /// it here.
    /// </summary>
    public static void MigrateTo(this IGrainBase grain, SiloAddress target)
    {
        ArgumentNullException.ThrowIfNull(grain);
        RequestContext.Set(IPlacementDirector.PlacementHintKey, target);
        try
        {
            grain.MigrateOnIdle();
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
    }
}

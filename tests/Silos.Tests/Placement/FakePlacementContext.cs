using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Llama4Cluster.Silos.Tests.Placement;

/// <summary>
/// A hand-written stand-in for the runtime's <see cref="IPlacementContext"/> (Orleans'
/// LocalPlacementDirectorTests substitutes it with NSubstitute, which this build does not carry).
/// </summary>
internal sealed class FakePlacementContext(SiloAddress localSilo, params SiloAddress[] compatibleSilos) : IPlacementContext
{
    public int Calls { get; private set; }

    public SiloAddress LocalSilo { get; } = localSilo;

    public SiloStatus LocalSiloStatus => SiloStatus.Active;

    public SiloAddress[] GetCompatibleSilos(PlacementTarget target)
    {
        Calls++;
        return compatibleSilos;
    }

    public IReadOnlyDictionary<ushort, SiloAddress[]> GetCompatibleSilosWithVersions(PlacementTarget target) =>
        new Dictionary<ushort, SiloAddress[]> { [0] = compatibleSilos };
}

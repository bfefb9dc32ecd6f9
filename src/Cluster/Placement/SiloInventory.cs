using System.Collections.Immutable;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// One silo as it advertises itself: a human name, its silo endpoint (<c>ip:port</c>, the
/// <c>SiloAddress.Endpoint</c> that <see cref="ExpertPlacementDirector"/> matches; null while planning
/// offline), its role and its devices.
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.SiloInventory")]
public sealed record SiloInventory(
    [property: Id(0)] string Name,
    [property: Id(1)] string? Address,
    [property: Id(2)] SiloRole Role,
    [property: Id(3)] ImmutableArray<DeviceInventory> Devices);

namespace Llama4Cluster.Cluster.Placement;

/// <summary>One device of the inventory while <see cref="PlacementPlanner"/> fills it: what it holds so far, in bytes.</summary>
internal sealed class PlannerSlot(SiloInventory silo, DeviceInventory device, long headroom, int index)
{
    public SiloInventory Silo { get; } = silo;
    public DeviceInventory Device { get; } = device;
    public long Headroom { get; } = headroom;
    /// <summary>Position in the inventory (ties break by it, so plans are deterministic).</summary>
    public int Index { get; } = index;
    public long Usable => Device.MemoryBytes - Headroom;
    public long Expert { get; set; }
    public long NonExpert { get; set; }
    public long Kv { get; set; }
    public int Shards { get; set; }
    /// <summary>Attention stages (of any rank) on this device.</summary>
    public int Stages { get; set; }
    /// <summary>Expert bytes the water-filling would still like this device to take.</summary>
    public long Quota { get; set; }
    public HashSet<int> Layers { get; } = [];
    public long Free => Usable - Expert - NonExpert - Kv;

    public DeviceMemory ToMemory() => new(Silo.Name, Device.Device, Device.MemoryBytes, Headroom, Expert, NonExpert, Kv, Shards);
}

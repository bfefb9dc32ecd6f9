namespace Llama4Cluster.Cluster.Placement;

/// <summary>One row of the plan's memory table: what one device holds, in bytes.</summary>
[GenerateSerializer, Immutable, Alias("l4c.DeviceMemory")]
public sealed record DeviceMemory(
    [property: Id(0)] string Silo,
    [property: Id(1)] string Device,
    [property: Id(2)] long CapacityBytes,
    [property: Id(3)] long HeadroomBytes,
    [property: Id(4)] long ExpertBytes,
    [property: Id(5)] long NonExpertBytes,
    [property: Id(6)] long KvBytes,
    [property: Id(7)] int ExpertShards)
{
    public long UsedBytes => ExpertBytes + NonExpertBytes + KvBytes;

    /// <summary>What is left after the weights, the KV budget and the headroom.</summary>
    public long FreeBytes => CapacityBytes - HeadroomBytes - UsedBytes;
}

namespace Llama4Cluster.Cluster.Placement;

/// <summary>One device a silo offers: <c>cpu</c> or <c>cuda:N</c>, and the bytes of memory it can give the model.</summary>
[GenerateSerializer, Immutable, Alias("l4c.DeviceInventory")]
public sealed record DeviceInventory([property: Id(0)] string Device, [property: Id(1)] long MemoryBytes);

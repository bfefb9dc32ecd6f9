namespace Llama4Cluster.Contracts.Tensors;

/// <summary>
/// Element type of a tensor on the wire. Activations travel as <see cref="BFloat16"/> by default
/// (half the bytes of fp32) and as <see cref="Float32"/> for exactness tests. The numeric values are
/// the wire encoding: never renumber.
/// </summary>
[GenerateSerializer, Alias("l4c.WireDType")]
public enum WireDType : byte
{
    Float32 = 1,
    BFloat16 = 2,
    Float16 = 3,
    Int64 = 4,
    Int32 = 5,
}

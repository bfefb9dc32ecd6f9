namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// One header entry of a safetensors file. <paramref name="DataStart"/>/<paramref name="DataEnd"/> are
/// byte offsets relative to the start of the data section (after the 8-byte length and the JSON header),
/// exactly as in <c>data_offsets</c>.
/// </summary>
public sealed record SafetensorsTensorInfo(string Name, SafetensorsDType DType, long[] Shape, long DataStart, long DataEnd, string File)
{
    public long ByteLength => DataEnd - DataStart;

    public long ElementCount => SafetensorsDTypes.ElementCount(Shape);

    public string ShapeText => SafetensorsDTypes.FormatShape(Shape);
}

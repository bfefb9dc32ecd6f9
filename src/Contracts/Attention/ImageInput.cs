using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>
/// One preprocessed image of a prompt on its way to the attention rank that encodes it: its tile grid and its normalised
/// tiles <c>[tiles, 3, TileSize, TileSize]</c> as fp32 (one blob, not per-element encoding).
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.ImageInput")]
public sealed record ImageInput(
    [property: Id(0)] int TileSize,
    [property: Id(1)] int Rows,
    [property: Id(2)] int Columns,
    [property: Id(3)] TensorPayload Pixels);

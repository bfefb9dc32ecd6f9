using System.Collections.Immutable;

namespace Llama4Cluster.Contracts.Experts;

/// <summary>What an expert shard loaded and where.</summary>
/// <param name="BytesRead">Bytes of tensor data read from the checkpoint to load this shard.</param>
/// <param name="ExpertBytesOnDisk">Bytes its experts occupy in the checkpoint (equal to <paramref name="BytesRead"/> when only they were read).</param>
/// <param name="WeightBytes">Bytes of expert weights held in memory, in the compute dtype.</param>
[GenerateSerializer, Immutable, Alias("l4c.ExpertShardInfo")]
public sealed record ExpertShardInfo(
    [property: Id(0)] int Layer,
    [property: Id(1)] int Shard,
    [property: Id(2)] ImmutableArray<int> ExpertIds,
    [property: Id(3)] long BytesRead,
    [property: Id(4)] long ExpertBytesOnDisk,
    [property: Id(5)] long WeightBytes,
    [property: Id(6)] string Silo,
    [property: Id(7)] string Device);

namespace Llama4Cluster.Contracts.Attention;

/// <summary>What an attention rank loaded and where.</summary>
[GenerateSerializer, Immutable, Alias("l4c.AttentionRankInfo")]
public sealed record AttentionRankInfo(
    [property: Id(0)] int Rank,
    [property: Id(1)] string Silo,
    [property: Id(2)] string Device,
    [property: Id(3)] int Sequences,
    [property: Id(4)] long WeightBytes,
    [property: Id(5)] long KvCacheBytes);

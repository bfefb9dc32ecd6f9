namespace Llama4Cluster.Contracts.Attention;

/// <summary>What an attention rank loaded and where; and its expert-dispatch counters since activation (calls, payload bytes each way).</summary>
[GenerateSerializer, Immutable, Alias("l4c.AttentionRankInfo")]
public sealed record AttentionRankInfo(
    [property: Id(0)] int Rank,
    [property: Id(1)] string Silo,
    [property: Id(2)] string Device,
    [property: Id(3)] int Sequences,
    [property: Id(4)] long WeightBytes,
    [property: Id(5)] long KvCacheBytes,
    [property: Id(6)] long DispatchCalls = 0,
    [property: Id(7)] long DispatchBytesSent = 0,
    [property: Id(8)] long DispatchBytesReceived = 0);

namespace Llama4Cluster.Contracts.Attention;

/// <summary>
/// What an attention rank loaded and where; its expert-dispatch counters since activation (calls, payload bytes each way);
/// and where its step time went: inside <c>StepAsync</c>, waiting for expert shards, and the shards' reported compute;
/// replica failover counters (retries, hedges, the replicas it has out of rotation now as shard keys, of the
/// <see cref="ExpertReplicas"/> every shard has); and its silo's data-plane endpoint, which a client watches to learn of the silo's death at
/// once (a connection the dead process's kernel resets) rather than after a call's timeout. On a staged rank, one record
/// per stage: which stage of how many and its layers, and its hand-offs to the next stage (calls, hidden-state bytes sent,
/// time waiting for the later stages' answer).
/// </summary>
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
    [property: Id(8)] long DispatchBytesReceived = 0,
    [property: Id(9)] double StepMilliseconds = 0,
    [property: Id(10)] double DispatchWaitMilliseconds = 0,
    [property: Id(11)] double ShardComputeMilliseconds = 0,
    [property: Id(12)] Experts.DataEndpoint? SiloEndpoint = null,
    [property: Id(13)] long DispatchRetries = 0,
    [property: Id(14)] int ReplicasDown = 0,
    [property: Id(15)] long DispatchHedges = 0,
    [property: Id(16)] int ExpertReplicas = 1,
    [property: Id(17)] System.Collections.Immutable.ImmutableArray<string> DownReplicas = default,
    [property: Id(18)] int Stage = 0,
    [property: Id(19)] int Stages = 1,
    [property: Id(20)] string StageLayers = "",
    [property: Id(21)] long HandOffs = 0,
    [property: Id(22)] long HandOffBytes = 0,
    [property: Id(23)] double HandOffWaitMilliseconds = 0);

using System.Text.Json.Serialization;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// <c>GET /ready</c>'s body: how much of the cluster is placed and loaded. <see cref="Status"/> is <c>ready</c> (200),
/// <c>loading</c> (503: still forming or loading; <see cref="Detail"/> says what it waits for) or <c>failed</c> (503:
/// <see cref="Detail"/> names the error; the gateway will not become ready without a restart).
/// </summary>
public sealed record ReadinessSnapshot(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("attention_ranks_loaded")] int AttentionRanksLoaded,
    [property: JsonPropertyName("attention_ranks")] int AttentionRanks,
    [property: JsonPropertyName("expert_shards_loaded")] int ExpertShardsLoaded,
    [property: JsonPropertyName("expert_shards")] int ExpertShards,
    [property: JsonPropertyName("detail")] string? Detail)
{
    public const string Ready = "ready";
    public const string Loading = "loading";
    public const string Failed = "failed";

    [JsonIgnore]
    public bool IsReady => Status == Ready;
}

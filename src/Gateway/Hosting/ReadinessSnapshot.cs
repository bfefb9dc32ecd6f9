using System.Text.Json.Serialization;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// <c>GET /ready</c>'s body. <see cref="Status"/> is <c>ready</c> (200: every attention rank and expert shard answered the last
/// check), <c>loading</c> (503: the cluster is still forming or loading; <see cref="Detail"/> says what it waits for),
/// <c>failed</c> (503: start-up failed with the error in <see cref="Detail"/>; the gateway will not become ready without a
/// restart) or <c>unavailable</c> (503: after start, the last check found attention ranks or expert shards that did not answer;
/// <see cref="Missing"/> names them and <see cref="Detail"/> says why; 200 again once a check finds all of them).
/// The counts are what has loaded during start-up, and what answered the last check after it.
/// </summary>
public sealed record ReadinessSnapshot(
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("attention_ranks_loaded")] int AttentionRanksLoaded,
    [property: JsonPropertyName("attention_ranks")] int AttentionRanks,
    [property: JsonPropertyName("expert_shards_loaded")] int ExpertShardsLoaded,
    [property: JsonPropertyName("expert_shards")] int ExpertShards,
    [property: JsonPropertyName("detail")] string? Detail,
    [property: JsonPropertyName("missing")] IReadOnlyList<string> Missing,
    [property: JsonPropertyName("checked_at")] DateTimeOffset? CheckedAt)
{
    public const string Ready = "ready";
    public const string Loading = "loading";
    public const string Failed = "failed";
    public const string Unavailable = "unavailable";

    [JsonIgnore]
    public bool IsReady => Status == Ready;
}

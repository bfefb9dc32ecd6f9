using System.Text.Json.Serialization;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// <c>GET /info</c>: what the gateway serves and how to reach its cluster directly. A load generator uses it to drive the
/// engine through its own Orleans client for a baseline: with localhost clustering it connects to
/// <see cref="OrleansGateway"/> (the co-hosted silo's gateway endpoint, static clustering), with Redis to <see cref="Redis"/>;
/// both with <see cref="ClusterId"/> and <see cref="ServiceId"/>.
/// </summary>
public sealed record GatewayInfo(
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("model_dir")] string ModelDirectory,
    [property: JsonPropertyName("max_model_len")] int MaxModelLength,
    [property: JsonPropertyName("vocab_size")] int VocabularySize,
    [property: JsonPropertyName("attention_ranks")] int AttentionRanks,
    [property: JsonPropertyName("shards_per_layer")] int ShardsPerLayer,
    [property: JsonPropertyName("clustering")] string Clustering,
    [property: JsonPropertyName("orleans_gateway")] string? OrleansGateway,
    [property: JsonPropertyName("redis")] string? Redis,
    [property: JsonPropertyName("cluster_id")] string ClusterId,
    [property: JsonPropertyName("service_id")] string ServiceId,
    [property: JsonPropertyName("dtype")] string? DType,
    [property: JsonPropertyName("data_plane")] string? DataPlane)
{
    public const string Localhost = "localhost";
    public const string RedisClustering = "redis";
}

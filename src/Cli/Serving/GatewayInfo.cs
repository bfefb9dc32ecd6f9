using System.Text.Json;
using System.Text.Json.Serialization;

namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// The gateway's <c>GET /info</c>: what a client needs to reach the same engine directly (the model directory for its
/// config, the cluster's shape, and how to join the cluster). Every field is optional here; the direct measurement
/// says which one it missed.
/// </summary>
public sealed record GatewayInfo
{
    [JsonPropertyName("model")] public string? Model { get; init; }
    [JsonPropertyName("model_dir")] public string? ModelDirectory { get; init; }
    [JsonPropertyName("max_model_len")] public int? MaxModelLength { get; init; }
    /// <summary>Not part of the gateway's documented reply; used when a server offers it.</summary>
    [JsonPropertyName("vocab_size")] public int? VocabularySize { get; init; }
    [JsonPropertyName("attention_ranks")] public int? AttentionRanks { get; init; }
    [JsonPropertyName("shards_per_layer")] public int? ShardsPerLayer { get; init; }
    /// <summary><c>localhost</c> (static clustering to <see cref="OrleansGateway"/>) or <c>redis</c> (membership in <see cref="Redis"/>).</summary>
    [JsonPropertyName("clustering")] public string? Clustering { get; init; }
    /// <summary><c>host:port</c> of the silo gateway, in localhost mode.</summary>
    [JsonPropertyName("orleans_gateway")] public string? OrleansGateway { get; init; }
    /// <summary><c>host:port</c> of the membership Redis, in redis mode.</summary>
    [JsonPropertyName("redis")] public string? Redis { get; init; }
    [JsonPropertyName("cluster_id")] public string? ClusterId { get; init; }
    [JsonPropertyName("service_id")] public string? ServiceId { get; init; }

    /// <exception cref="GatewayResponseException">The JSON is not an object of this shape.</exception>
    public static GatewayInfo Parse(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object) throw new GatewayResponseException("GET /info: expected a JSON object");
        try
        {
            return json.Deserialize<GatewayInfo>() ?? throw new GatewayResponseException("GET /info: expected a JSON object");
        }
        catch (JsonException e)
        {
            throw new GatewayResponseException($"GET /info: unexpected JSON ({e.Message})");
        }
    }

    /// <summary>
    /// The image patch token id of a vision checkpoint in <see cref="ModelDirectory"/>, which random prompts must not draw
    /// (a prompt that holds it without images is refused); null for a text-only model or a directory not readable here.
    /// </summary>
    public int? PatchTokenId()
    {
        if (string.IsNullOrEmpty(ModelDirectory)) return null;
        try
        {
            return Core.Vision.VisionInputs.FromModelDirectory(ModelDirectory)?.PatchTokenId;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
        {
            return null; // served from elsewhere; a vision model's /info names its directory
        }
    }
}

using System.Text.Json;

namespace Llama4Cluster.Cli.Serving;

/// <summary>One entry of <c>GET /v1/models</c>: the model id to send, and vLLM's <c>max_model_len</c> when present.</summary>
public sealed record ServedModelCard(string Id, int? MaxModelLength)
{
    /// <summary>The entries of an OpenAI model list (<c>{"object": "list", "data": [{"id": ...}, ...]}</c>).</summary>
    /// <exception cref="GatewayResponseException">The JSON is not a model list.</exception>
    public static IReadOnlyList<ServedModelCard> ParseList(JsonElement json)
    {
        if (json.ValueKind != JsonValueKind.Object || !json.TryGetProperty("data", out var data) || data.ValueKind != JsonValueKind.Array)
            throw new GatewayResponseException("GET /v1/models: expected an OpenAI model list ({\"data\": [...]})");
        var cards = new List<ServedModelCard>();
        foreach (var entry in data.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("id", out var id) || id.ValueKind != JsonValueKind.String)
                throw new GatewayResponseException("GET /v1/models: an entry has no string \"id\"");
            int? max = entry.TryGetProperty("max_model_len", out var m) && m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out int v) ? v : null;
            cards.Add(new ServedModelCard(id.GetString()!, max));
        }
        return cards;
    }
}

using System.Text.Json;

namespace Llama4Cluster.Cli.Serving;

/// <summary>One <c>data:</c> event of an OpenAI-style stream, parsed the same way for every reader of streams
/// (<c>bench serve</c>'s <see cref="CompletionStreamClient"/>, <c>llama4 chaos</c>).</summary>
internal static class StreamEventJson
{
    /// <summary>The event's JSON object (the caller disposes it), or null with <paramref name="error"/> set: the event is
    /// not JSON, not an object, or an error event (its message).</summary>
    public static JsonDocument? Parse(string data, out string? error)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(data);
        }
        catch (JsonException e)
        {
            error = $"an event is not JSON ({e.Message})";
            return null;
        }

        var root = doc.RootElement;
        error = root.ValueKind != JsonValueKind.Object
            ? "an event is not a JSON object"
            : root.TryGetProperty("error", out var e2) && e2.ValueKind != JsonValueKind.Null
                ? "error event: " + (e2.ValueKind == JsonValueKind.Object && e2.TryGetProperty("message", out var m) ? m.ToString() : e2.ToString())
                : null;
        if (error is null) return doc;
        doc.Dispose();
        return null;
    }
}

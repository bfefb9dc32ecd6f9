using System.Text.Json;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// One JSON call object: <c>{"name": "f", "parameters": {…}}</c>, or <c>"arguments"</c> instead of
/// <c>"parameters"</c>, holding an object or a JSON string of one (OpenAI's own form). Other members are ignored; a
/// missing or null argument object is <c>{}</c> only when one of the two keys is present.
/// </summary>
internal static class JsonCallReader
{
    /// <summary>The call, or null when the object is not a call to one of <paramref name="names"/>.</summary>
    public static ParsedToolCall? Read(ReadOnlyMemory<char> json, IReadOnlySet<string> names)
    {
        try
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("name", out var name)
                || name.ValueKind != JsonValueKind.String
                || !names.Contains(name.GetString()!))
            {
                return null;
            }

            if (!root.TryGetProperty("parameters", out var arguments) && !root.TryGetProperty("arguments", out arguments))
            {
                return null;
            }

            var pieces = Pieces(arguments);
            return pieces is null ? null : new ParsedToolCall(name.GetString()!, pieces);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null; // not JSON after all, or a string holding an unpaired surrogate
        }
    }

    private static List<string>? Pieces(JsonElement arguments)
    {
        switch (arguments.ValueKind)
        {
            case JsonValueKind.Object:
                return PythonJson.ObjectPieces(arguments);
            case JsonValueKind.Null:
                return ["{}"];
            case JsonValueKind.String:
                using (var inner = JsonDocument.Parse(arguments.GetString()!))
                {
                    return inner.RootElement.ValueKind == JsonValueKind.Object ? PythonJson.ObjectPieces(inner.RootElement) : null;
                }

            default:
                return null;
        }
    }
}

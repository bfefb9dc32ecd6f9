using System.Text.Json;
using Llama4Cluster.Cli.Serving;

namespace Llama4Cluster.Cli.Chaos.Report;

/// <summary>Reads one <c>text_completion</c> stream chunk into a <see cref="StreamRecord"/>.</summary>
internal static class ChunkReader
{
    /// <summary>Adds the chunk's tokens, text, finish reason and usage; returns an error message for an error event or a
    /// chunk that is not the expected JSON.</summary>
    public static string? Read(string data, StreamRecord record, long timestamp)
    {
        using var doc = StreamEventJson.Parse(data, out var error);
        if (doc is null) return error;
        var root = doc.RootElement;
        if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
        {
            var choice = choices[0];
            string text = choice.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString()! : "";
            if (choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String) record.SetFinishReason(f.GetString()!);
            if (!choice.TryGetProperty("logprobs", out var logprobs) || logprobs.ValueKind != JsonValueKind.Object
                || !logprobs.TryGetProperty("tokens", out var tokens) || tokens.ValueKind != JsonValueKind.Array)
            {
                if (text.Length > 0) return "a chunk carries text but no logprobs.tokens (the server ignored logprobs: 0)";
                record.AddTokens(timestamp, [], text);
            }
            else
            {
                record.AddTokens(timestamp, [.. tokens.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? e.GetString()! : e.ToString())], text);
            }
        }
        if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object
            && usage.TryGetProperty("completion_tokens", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out int n))
            record.SetUsage(n);
        return null;
    }
}

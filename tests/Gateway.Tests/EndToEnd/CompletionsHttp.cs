using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary><c>POST /v1/completions</c> with token-id prompts over raw HTTP, streamed (SSE) or not.</summary>
internal static class CompletionsHttp
{
    /// <summary>What one completion produced: its text, completion token count and finish reason.</summary>
    public sealed record Result(string Text, int CompletionTokens, string? FinishReason);

    public static JsonObject Body(string model, IReadOnlyList<int> prompt, int maxTokens, bool stream, bool ignoreEos = true) => new()
    {
        ["model"] = model,
        ["prompt"] = new JsonArray([.. prompt.Select(t => (JsonNode)t)]),
        ["max_tokens"] = maxTokens,
        ["temperature"] = 0,
        ["ignore_eos"] = ignoreEos,
        ["stream"] = stream,
        ["stream_options"] = stream ? new JsonObject { ["include_usage"] = true } : null,
    };

    public static async Task<Result> CompleteAsync(HttpClient http, JsonObject body, CancellationToken cancellationToken = default)
    {
        using var response = await http.PostAsJsonAsync("v1/completions", body, cancellationToken);
        string text = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"POST /v1/completions: {(int)response.StatusCode} {text}");
        var json = JsonDocument.Parse(text).RootElement;
        var choice = json.GetProperty("choices")[0];
        return new Result(choice.GetProperty("text").GetString()!, json.GetProperty("usage").GetProperty("completion_tokens").GetInt32(),
            choice.GetProperty("finish_reason").GetString());
    }

    /// <summary>Reads an SSE stream to <c>data: [DONE]</c>: the text of every chunk, the finish reason, the usage chunk's count.</summary>
    public static async Task<Result> StreamAsync(HttpClient http, JsonObject body, CancellationToken cancellationToken = default, Action? onChunk = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions") { Content = JsonContent.Create(body) };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"POST /v1/completions: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(cancellationToken)}");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken));
        var text = new StringBuilder();
        string? finish = null;
        int? tokens = null;
        bool done = false;
        while (await reader.ReadLineAsync(cancellationToken) is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line["data: ".Length..];
            if (data == "[DONE]")
            {
                done = true;
                break;
            }
            var chunk = JsonDocument.Parse(data).RootElement;
            if (chunk.TryGetProperty("error", out var error)) throw new HttpRequestException($"the stream ended with an error: {error}");
            onChunk?.Invoke();
            foreach (var choice in chunk.GetProperty("choices").EnumerateArray())
            {
                text.Append(choice.GetProperty("text").GetString());
                if (choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String) finish = f.GetString();
            }
            if (chunk.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
                tokens = usage.GetProperty("completion_tokens").GetInt32();
        }
        if (!done) throw new InvalidDataException("the stream ended without data: [DONE]");
        return new Result(text.ToString(), tokens ?? throw new InvalidDataException("the stream had no usage chunk"), finish);
    }
}

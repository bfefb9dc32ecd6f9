using System.Net;
using System.Text;
using System.Text.Json;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>Helpers for the API tests: raw JSON requests against the shared server.</summary>
public abstract class ApiTestBase(ApiServerFixture server)
{
    protected ApiServerFixture Server { get; } = server;

    internal FakeScheduler Scheduler => Server.Scheduler;

    /// <summary>A unique marker that routes a prompt to a script.</summary>
    protected static string NewMarker(string name) => $"[{name}-{Guid.NewGuid():N}]";

    /// <summary>A script emitting the tokens of <paramref name="text"/>, then EOS.</summary>
    private protected FakeScript TextScript(string text) => new() { Tokens = _ => Server.Encode(text) };

    protected static string ChatBody(string userText, string extra = "") =>
        $$"""{"model":"{{ApiServerFixture.ModelId}}","messages":[{"role":"user","content":{{JsonSerializer.Serialize(userText)}}}]{{extra}}}""";

    protected Task<HttpResponseMessage> PostAsync(string path, string json, HttpClient? client = null, CancellationToken cancel = default)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        return (client ?? Server.Client).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancel);
    }

    /// <summary>Posts and reads a JSON body (of any status).</summary>
    protected async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostJsonAsync(
        string path, string json, HttpClient? client = null)
    {
        var response = await PostAsync(path, json, client);
        using var deadline = new CancellationTokenSource(SseReader.Budget);
        var text = await response.Content.ReadAsStringAsync(deadline.Token);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        return (response.StatusCode, JsonDocument.Parse(text).RootElement.Clone(), response);
    }

    /// <summary>Posts a streaming request and returns its checked SSE reader (status 200, text/event-stream, no-cache).</summary>
    private protected async Task<(HttpResponseMessage Response, SseReader Reader)> PostStreamAsync(string path, string json, CancellationToken cancel = default)
    {
        var response = await PostAsync(path, json, cancel: cancel);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("no-cache", response.Headers.CacheControl?.ToString() ?? string.Empty);
        return (response, new SseReader(await response.Content.ReadAsStreamAsync(cancel)));
    }

    /// <summary>Asserts an OpenAI error body: <c>{"error": {"message", "type", "param", "code"}}</c>.</summary>
    protected static void AssertError(
        JsonElement body, string type, string? param = null, string? code = null, string? messageContains = null)
    {
        var error = body.GetProperty("error");
        var message = error.GetProperty("message").GetString();
        Assert.False(string.IsNullOrWhiteSpace(message));
        Assert.Equal(type, error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").ValueKind == JsonValueKind.Null ? null : error.GetProperty("param").GetString());
        Assert.Equal(code, error.GetProperty("code").ValueKind == JsonValueKind.Null ? null : error.GetProperty("code").GetString());
        if (messageContains is not null)
        {
            Assert.Contains(messageContains, message);
        }
    }

    /// <summary>The server still answers a normal chat completion.</summary>
    protected async Task AssertServerAnswersAsync()
    {
        var marker = NewMarker("alive");
        Scheduler.On(marker, TextScript("Hello world"));
        var (status, body, _) = await PostJsonAsync("/v1/chat/completions", ChatBody(marker));
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("Hello world", body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
    }
}

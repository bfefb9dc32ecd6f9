using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// The HTTP side of <c>bench serve</c>: streaming <c>POST /v1/completions</c> requests measured as vLLM's
/// <c>bench serve</c> measures them, and the JSON GETs that describe the server. Contacts only the given base URL
/// (no proxy, no redirects); every call is bounded by <see cref="RequestTimeout"/>. Thread-safe: one instance serves
/// every concurrent request of a run, each on a pooled connection of its own.
/// </summary>
public sealed class CompletionStreamClient : IDisposable
{
    private const int MaxErrorChars = 300;
    private readonly HttpClient _http;

    public CompletionStreamClient(Uri baseUrl, string? apiKey, TimeSpan requestTimeout)
    {
        ArgumentNullException.ThrowIfNull(baseUrl);
        if (requestTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(requestTimeout), requestTimeout, "the request timeout must be positive");
        BaseUrl = baseUrl;
        RequestTimeout = requestTimeout;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = requestTimeout < TimeSpan.FromSeconds(10) ? requestTimeout : TimeSpan.FromSeconds(10),
            MaxConnectionsPerServer = int.MaxValue,
        };
        _http = new HttpClient(handler, disposeHandler: true) { BaseAddress = baseUrl, Timeout = Timeout.InfiniteTimeSpan };
        if (!string.IsNullOrEmpty(apiKey)) _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
    }

    /// <summary>The server root, ending in '/': <c>v1/completions</c>, <c>v1/models</c> and <c>info</c> are relative to it.</summary>
    public Uri BaseUrl { get; }

    public TimeSpan RequestTimeout { get; }

    /// <summary>
    /// An absolute http(s) URL without query or fragment, as the server root: a trailing <c>/v1</c> (the OpenAI SDKs'
    /// base URL form) is dropped, so both <c>http://host:8000</c> and <c>http://host:8000/v1</c> are accepted.
    /// </summary>
    public static bool TryParseBaseUrl(string text, [NotNullWhen(true)] out Uri? url)
    {
        url = null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https")
            || !string.IsNullOrEmpty(parsed.Query) || !string.IsNullOrEmpty(parsed.Fragment) || !string.IsNullOrEmpty(parsed.UserInfo))
            return false;
        string path = parsed.AbsolutePath.TrimEnd('/');
        if (path.EndsWith("/v1", StringComparison.Ordinal)) path = path[..^3];
        url = new UriBuilder(parsed) { Path = path + "/" }.Uri;
        return true;
    }

    /// <summary>GETs <paramref name="relativePath"/> and parses its JSON body.</summary>
    /// <exception cref="GatewayUnreachableException">No HTTP answer (connection refused, no reply within the timeout).</exception>
    /// <exception cref="GatewayResponseException">An error status or a body that is not JSON.</exception>
    public async Task<JsonElement> GetJsonAsync(string relativePath, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(RequestTimeout);
        var url = new Uri(BaseUrl, relativePath);
        try
        {
            using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseContentRead, timeout.Token);
            string body = await response.Content.ReadAsStringAsync(timeout.Token);
            if (!response.IsSuccessStatusCode)
                throw new GatewayResponseException($"GET {url} answered HTTP {(int)response.StatusCode}: {ErrorMessage(body)}", (int)response.StatusCode);
            using var doc = JsonDocument.Parse(body);
            return doc.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new GatewayResponseException($"GET {url}: the body is not JSON ({e.Message})");
        }
        catch (HttpRequestException e)
        {
            throw new GatewayUnreachableException($"cannot reach {BaseUrl}: {Describe(e)}", e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw new GatewayUnreachableException($"cannot reach {BaseUrl}: no answer to GET {url} within {Seconds(RequestTimeout)}", e);
        }
    }

    /// <summary>
    /// One streaming completion: <c>prompt</c> = the token ids, greedy, <c>ignore_eos</c>, usage in the last event.
    /// Never throws for the server's or the network's faults (they make a failed measurement); only for
    /// <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task<CompletionMeasurement> StreamCompletionAsync(string model, IReadOnlyList<int> prompt, int maxTokens, CancellationToken cancellationToken)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            model,
            prompt,
            max_tokens = maxTokens,
            temperature = 0,
            ignore_eos = true,
            stream = true,
            stream_options = new { include_usage = true },
        });
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(BaseUrl, "v1/completions"))
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var stream = new StreamState(Stopwatch.GetTimestamp());
        timeout.CancelAfter(RequestTimeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
                return stream.Fail($"HTTP {(int)response.StatusCode}: {ErrorMessage(await response.Content.ReadAsStringAsync(timeout.Token))}");
            await using var content = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var events = new ServerSentEventReader(content);
            while (await events.ReadEventAsync(timeout.Token) is { } data)
            {
                long now = Stopwatch.GetTimestamp();
                if (data == "[DONE]") return stream.Done();
                if (stream.Accept(data, now) is { } error) return stream.Fail(error);
            }
            return stream.Fail("the stream ended without data: [DONE]");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return stream.Fail($"timed out after {Seconds(RequestTimeout)}");
        }
        catch (HttpRequestException e)
        {
            return stream.Fail(Describe(e));
        }
        catch (IOException e)
        {
            return stream.Fail($"the stream broke: {e.Message}");
        }
    }

    public void Dispose() => _http.Dispose();

    private static string Seconds(TimeSpan t) => string.Create(CultureInfo.InvariantCulture, $"{t.TotalSeconds:0.###} s");

    private static string Describe(HttpRequestException e) =>
        e.InnerException is { } inner && !e.Message.Contains(inner.Message, StringComparison.Ordinal) ? $"{e.Message} ({inner.Message})" : e.Message;

    /// <summary>The OpenAI error body's message when there is one, else the start of the body.</summary>
    private static string ErrorMessage(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error))
            {
                if (error.ValueKind == JsonValueKind.Object && error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String)
                    return m.GetString()!;
                if (error.ValueKind == JsonValueKind.String) return error.GetString()!;
            }
        }
        catch (JsonException)
        {
            // Not JSON: the raw text below.
        }
        string flat = body.ReplaceLineEndings(" ").Trim();
        return flat.Length == 0 ? "(empty body)" : flat.Length <= MaxErrorChars ? flat : flat[..MaxErrorChars] + "…";
    }

    /// <summary>What one response stream has shown so far.</summary>
    private sealed class StreamState(long start)
    {
        private readonly List<double> _itl = [];
        private long _first, _last;
        private int _events;
        private int? _completionTokens, _promptTokens;
        private string? _finishReason;

        /// <summary>Takes one event's JSON; returns an error message when the event is an error or malformed.</summary>
        public string? Accept(string data, long now)
        {
            using var doc = StreamEventJson.Parse(data, out var error);
            if (doc is null) return error;
            var root = doc.RootElement;
            if (root.TryGetProperty("choices", out var choices) && choices.ValueKind == JsonValueKind.Array && choices.GetArrayLength() > 0)
            {
                var choice = choices[0];
                string? text = choice.TryGetProperty("text", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null;
                string? finish = choice.TryGetProperty("finish_reason", out var f) && f.ValueKind == JsonValueKind.String ? f.GetString() : null;
                if (finish is not null) _finishReason = finish;
                // A token event: text, or no finish reason (a token whose text the detokenizer still holds back).
                // An empty event that only carries the finish reason is no token.
                if (!string.IsNullOrEmpty(text) || finish is null)
                {
                    if (_events == 0) _first = now;
                    else _itl.Add(Seconds(_last, now));
                    _last = now;
                    _events++;
                }
            }
            if (root.TryGetProperty("usage", out var usage) && usage.ValueKind == JsonValueKind.Object)
            {
                if (usage.TryGetProperty("completion_tokens", out var c) && c.ValueKind == JsonValueKind.Number && c.TryGetInt32(out int ct)) _completionTokens = ct;
                if (usage.TryGetProperty("prompt_tokens", out var p) && p.ValueKind == JsonValueKind.Number && p.TryGetInt32(out int pt)) _promptTokens = pt;
            }
            return null;
        }

        public CompletionMeasurement Done()
        {
            if (_events == 0) return Fail("the stream carried no token");
            return new CompletionMeasurement
            {
                Ok = true,
                StartTimestamp = start,
                TtftSeconds = Seconds(start, _first),
                ItlSeconds = _itl,
                E2eSeconds = Seconds(start, _last),
                OutputTokens = _completionTokens ?? _events,
                PromptTokens = _promptTokens,
                TokenEvents = _events,
                UsageReported = _completionTokens is not null,
                FinishReason = _finishReason,
            };
        }

        /// <summary>Exact tick differences in seconds (TimeSpan would round each to 100 ns).</summary>
        private static double Seconds(long from, long to) => (to - from) / (double)Stopwatch.Frequency;

        public CompletionMeasurement Fail(string error) => new()
        {
            Ok = false,
            Error = error,
            StartTimestamp = start,
            E2eSeconds = Seconds(start, Stopwatch.GetTimestamp()),
            TokenEvents = _events,
        };
    }
}

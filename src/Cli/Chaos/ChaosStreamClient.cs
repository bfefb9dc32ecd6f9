using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text.Json;
using Llama4Cluster.Cli.Chaos.Report;
using Llama4Cluster.Cli.Serving;

namespace Llama4Cluster.Cli.Chaos;

/// <summary>
/// The drill's HTTP side: greedy streaming <c>POST /v1/completions</c> of token-id prompts with <c>logprobs: 0</c>, so every
/// chunk names the tokens it carries (<c>logprobs.tokens</c>) and streams can be compared token by token; and the
/// <c>/ready</c> and <c>/metrics</c> probes. Contacts only the gateway's loopback URL; thread-safe.
/// </summary>
internal sealed class ChaosStreamClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly TimeSpan _streamTimeout;

    public ChaosStreamClient(Uri baseUrl, TimeSpan streamTimeout)
    {
        _streamTimeout = streamTimeout;
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            UseCookies = false,
            ConnectTimeout = TimeSpan.FromSeconds(5),
            MaxConnectionsPerServer = int.MaxValue,
            // A restarted gateway listens on the same port: never reuse a connection to the old one.
            PooledConnectionLifetime = TimeSpan.FromSeconds(2),
        };
        _http = new HttpClient(handler, disposeHandler: true) { BaseAddress = baseUrl, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>Streams one greedy completion of <paramref name="prompt"/> into a record; never throws for the server's or the
    /// network's faults (they end the record as failed), only for <paramref name="cancellationToken"/>.</summary>
    public async Task<StreamRecord> StreamAsync(string model, IReadOnlyList<int> prompt, int maxTokens, int stream, int pass,
        Action<int> onTokens, CancellationToken cancellationToken)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(new
        {
            model,
            prompt,
            max_tokens = maxTokens,
            temperature = 0,
            ignore_eos = true,
            logprobs = 0,
            // vLLM's flag: tokens as "token_id:N" where the server supports it (otherwise ignored, and tokens are their text).
            return_tokens_as_token_ids = true,
            stream = true,
            stream_options = new { include_usage = true },
        });
        var record = new StreamRecord(stream, pass, Stopwatch.GetTimestamp());
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_streamTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
        {
            Content = new ByteArrayContent(body) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } },
        };
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
            {
                string text = await response.Content.ReadAsStringAsync(timeout.Token);
                record.Fail(Stopwatch.GetTimestamp(), $"HTTP {(int)response.StatusCode}: {Shorten(text)}");
                return record;
            }
            await using var content = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var events = new ServerSentEventReader(content);
            while (await events.ReadEventAsync(timeout.Token) is { } data)
            {
                long now = Stopwatch.GetTimestamp();
                if (data == "[DONE]")
                {
                    record.Complete(now);
                    return record;
                }
                if (ChunkReader.Read(data, record, now) is { } error)
                {
                    record.Fail(now, error);
                    return record;
                }
                onTokens(record.Tokens.Count);
            }
            record.Fail(Stopwatch.GetTimestamp(), "the stream ended without data: [DONE]");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            record.Fail(Stopwatch.GetTimestamp(), $"no end within {_streamTimeout.TotalSeconds:F0} s (--timeout)");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            record.Fail(Stopwatch.GetTimestamp(), $"the connection broke: {e.Message}{(e.InnerException is { } i ? " (" + i.Message + ")" : "")}");
        }
        return record;
    }

    /// <summary><c>GET path</c>: the status code and body; null when nothing answered within <paramref name="timeout"/>.</summary>
    public async Task<(int Status, string Body)?> GetAsync(string path, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        try
        {
            using var response = await _http.GetAsync(path, cts.Token);
            return ((int)response.StatusCode, await response.Content.ReadAsStringAsync(cts.Token));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    public void Dispose() => _http.Dispose();

    private static string Shorten(string text)
    {
        string flat = text.ReplaceLineEndings(" ").Trim();
        return flat.Length <= 300 ? flat : flat[..300] + "…";
    }
}

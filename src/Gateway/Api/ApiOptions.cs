namespace Llama4Cluster.Gateway.Api;

/// <summary>Settings of the OpenAI-compatible HTTP API (<see cref="OpenAiApiHostingExtensions"/>).</summary>
public sealed class ApiOptions
{
    /// <summary>Default <see cref="MaxRequestBodyBytes"/>: 8 MiB.</summary>
    public const long DefaultMaxRequestBodyBytes = 8L << 20;

    /// <summary>
    /// When set, every <c>/v1/*</c> request must carry <c>Authorization: Bearer KEY</c> (401 otherwise).
    /// <c>/metrics</c> and the health endpoints stay open. Null or empty: no authentication.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>Largest accepted request body in bytes; a larger one is answered 413.</summary>
    public long MaxRequestBodyBytes { get; set; } = DefaultMaxRequestBodyBytes;

    /// <summary>
    /// While a stream waits for its next token (a long prefill, a full batch), an SSE comment line
    /// <c>: keep-alive</c> is sent after this much silence so that proxies and clients do not time out.
    /// </summary>
    public TimeSpan KeepAliveInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Longest time from submission to a sequence's last token (<c>SequenceSubmission.Timeout</c>);
    /// null leaves it to the scheduler's default.</summary>
    public TimeSpan? DefaultRequestTimeout { get; set; }

    /// <summary>What one generation request may carry: <c>n</c>, prompts, messages, stop strings and stop token ids.</summary>
    public RequestLimits Limits { get; set; } = new();

    /// <summary>Whether <c>image_url</c> parts may name http(s) URLs, which the gateway then fetches (within
    /// <see cref="ImageUrlTimeout"/> and <see cref="RequestLimits.MaxImageBytes"/>). Off by default: images come inline as
    /// <c>data:</c> URLs, and the gateway makes no requests on a client's behalf.</summary>
    public bool AllowImageUrls { get; set; }

    /// <summary>Longest time to fetch all of one request's image URLs.</summary>
    public TimeSpan ImageUrlTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The <c>owned_by</c> of <c>GET /v1/models</c>.</summary>
    public string OwnedBy { get; set; } = "llama4cluster";
}

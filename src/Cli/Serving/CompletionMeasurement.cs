namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// One streamed completion as the client saw it, with vLLM <c>bench serve</c>'s definitions. Times are seconds from
/// the moment the request was sent (<see cref="StartTimestamp"/>, <see cref="System.Diagnostics.Stopwatch"/> ticks).
/// </summary>
public sealed record CompletionMeasurement
{
    public required bool Ok { get; init; }

    /// <summary>Why the request failed (null when <see cref="Ok"/>).</summary>
    public string? Error { get; init; }

    public long StartTimestamp { get; init; }

    /// <summary>Time to first token: send → the first event carrying a token (text, or a token whose text is held back).</summary>
    public double TtftSeconds { get; init; }

    /// <summary>Inter-token latencies: the gap before each token event after the first (one per event; an event may carry
    /// several tokens, as vLLM counts it; <see cref="TpotSeconds"/> divides by tokens).</summary>
    public IReadOnlyList<double> ItlSeconds { get; init; } = [];

    /// <summary>End to end: send → the last token event.</summary>
    public double E2eSeconds { get; init; }

    /// <summary><c>usage.completion_tokens</c>; the number of token events when the server sent no usage.</summary>
    public int OutputTokens { get; init; }

    /// <summary><c>usage.prompt_tokens</c>, when the server sent usage.</summary>
    public int? PromptTokens { get; init; }

    /// <summary>Events that carried tokens.</summary>
    public int TokenEvents { get; init; }

    public bool UsageReported { get; init; }

    public string? FinishReason { get; init; }

    /// <summary>Time per output token after the first: (E2E − TTFT) ÷ (tokens − 1), vLLM's TPOT; null below two tokens.</summary>
    public double? TpotSeconds => Ok && OutputTokens > 1 ? (E2eSeconds - TtftSeconds) / (OutputTokens - 1) : null;
}

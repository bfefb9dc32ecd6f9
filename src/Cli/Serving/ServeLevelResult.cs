namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// One concurrency level of <c>bench serve</c>: every request's measurement and the level's wall time (first send →
/// last request done). Aggregates count successful requests only, as vLLM does; latency percentiles pool the samples
/// of all of them (every inter-token gap of every request, for ITL).
/// </summary>
public sealed class ServeLevelResult
{
    public ServeLevelResult(int concurrency, IReadOnlyList<CompletionMeasurement> requests, double durationSeconds)
    {
        ArgumentNullException.ThrowIfNull(requests);
        if (concurrency < 1) throw new ArgumentOutOfRangeException(nameof(concurrency), concurrency, "concurrency is at least 1");
        Concurrency = concurrency;
        Requests = requests;
        DurationSeconds = durationSeconds;
        var ok = requests.Where(r => r.Ok).ToArray();
        Succeeded = ok.Length;
        OutputTokens = ok.Sum(r => (long)r.OutputTokens);
        PromptTokens = ok.Sum(r => (long)(r.PromptTokens ?? 0));
        TtftSeconds = ok.Select(r => r.TtftSeconds).ToArray();
        ItlSeconds = ok.SelectMany(r => r.ItlSeconds).ToArray();
        TpotSeconds = ok.Where(r => r.TpotSeconds is not null).Select(r => r.TpotSeconds!.Value).ToArray();
        E2eSeconds = ok.Select(r => r.E2eSeconds).ToArray();
        WithoutUsage = ok.Count(r => !r.UsageReported);
        Errors = requests.Where(r => !r.Ok).GroupBy(r => r.Error ?? "unknown error")
            .Select(g => (Message: g.Key, Count: g.Count())).OrderByDescending(e => e.Count).ThenBy(e => e.Message, StringComparer.Ordinal).ToArray();
    }

    public int Concurrency { get; }
    public IReadOnlyList<CompletionMeasurement> Requests { get; }
    public double DurationSeconds { get; }
    public int Succeeded { get; }
    public int Failed => Requests.Count - Succeeded;

    /// <summary>Output tokens of the successful requests (their <c>usage.completion_tokens</c>).</summary>
    public long OutputTokens { get; }

    /// <summary>Prompt tokens the server reported for the successful requests.</summary>
    public long PromptTokens { get; }

    /// <summary>Output tokens ÷ the level's wall time; NaN when the level took no time.</summary>
    public double OutputTokensPerSecond => DurationSeconds > 0 ? OutputTokens / DurationSeconds : double.NaN;

    public IReadOnlyList<double> TtftSeconds { get; }
    public IReadOnlyList<double> ItlSeconds { get; }
    public IReadOnlyList<double> TpotSeconds { get; }
    public IReadOnlyList<double> E2eSeconds { get; }

    /// <summary>Successful requests whose stream had no usage (their tokens are counted as token events).</summary>
    public int WithoutUsage { get; }

    /// <summary>The distinct errors of the failed requests with how often each occurred, most frequent first.</summary>
    public IReadOnlyList<(string Message, int Count)> Errors { get; }
}

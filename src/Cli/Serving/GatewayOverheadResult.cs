namespace Llama4Cluster.Cli.Serving;

/// <summary>
/// TTFT through the gateway against TTFT of the engine called directly, from one-at-a-time pairs of requests in the
/// same run (<see cref="GatewayOverheadBenchmark"/>); or why that measurement was skipped.
/// </summary>
public sealed record GatewayOverheadResult
{
    /// <summary>Why there is no measurement (the gateway has no <c>/info</c>, the cluster cannot be joined, ...); null when measured.</summary>
    public string? SkippedReason { get; init; }

    public IReadOnlyList<double> GatewayTtftSeconds { get; init; } = [];
    public IReadOnlyList<double> DirectTtftSeconds { get; init; } = [];

    /// <summary>Tokens generated per request of the pairs (only the first is timed).</summary>
    public int MaxTokens { get; init; }

    /// <summary>Gateway requests of the pairs that failed (not in <see cref="GatewayTtftSeconds"/>), and the first error.</summary>
    public int GatewayFailures { get; init; }
    public string? FirstGatewayError { get; init; }

    public bool Measured => SkippedReason is null;
    public double GatewayP50Seconds => LatencyStatistics.Median(GatewayTtftSeconds);
    public double DirectP50Seconds => LatencyStatistics.Median(DirectTtftSeconds);

    /// <summary>TTFT p50 through the gateway ÷ TTFT p50 direct.</summary>
    public double Ratio => GatewayP50Seconds / DirectP50Seconds;

    /// <summary>TTFT p50 through the gateway − TTFT p50 direct.</summary>
    public double DifferenceSeconds => GatewayP50Seconds - DirectP50Seconds;

    public static GatewayOverheadResult Skipped(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new GatewayOverheadResult { SkippedReason = reason };
    }
}

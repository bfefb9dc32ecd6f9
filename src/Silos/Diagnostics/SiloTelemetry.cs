using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Llama4Cluster.Silos.Diagnostics;

/// <summary>
/// The silo's spans and metrics, with System.Diagnostics only (the hosts' OpenTelemetry collects <c>Llama4Cluster.*</c>).
/// Spans: <c>moe.dispatch</c> (one MoE layer's dispatch on an attention rank), <c>dataplane.serve</c> (a request that came in
/// over the socket data plane, child of the dispatch that sent it) and <c>expert.compute</c> (one shard's grouped SwiGLU).
/// Metrics (Prometheus names in <c>/metrics</c>): routed tokens per layer and expert (<c>llama4:expert_tokens_total</c>),
/// each shard's compute and queue time, the dispatch bytes each way and each layer's dispatch latency, and each attention
/// rank's KV-cache bytes and sequences.
/// </summary>
public static class SiloTelemetry
{
    public const string Name = "Llama4Cluster.Silos";

    public static readonly ActivitySource Source = new(Name);

    private static readonly Meter s_meter = new(Name);

    private static readonly double[] SecondsBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private static readonly ConcurrentDictionary<int, RankKv> s_ranks = new();

    /// <summary>Tokens routed to each (layer, expert), counted where the attention rank dispatches them.</summary>
    public static readonly Counter<long> ExpertTokens = s_meter.CreateCounter<long>("llama4.expert_tokens", "{token}",
        "Tokens routed to each expert of each MoE layer (top-k choices of the router, counted by the attention ranks' dispatch).");

    public static readonly Histogram<double> ExpertCompute = s_meter.CreateHistogram("llama4.expert_compute_seconds", "s",
        "Time an expert shard spent computing one request (grouped SwiGLU, payload conversions included).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    public static readonly Histogram<double> ExpertQueue = s_meter.CreateHistogram("llama4.expert_queue_seconds", "s",
        "Time a request waited for its expert shard (behind the shard's previous request and for a compute thread).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    public static readonly Counter<long> DispatchBytes = s_meter.CreateCounter<long>("llama4.dispatch_bytes", "By",
        "Bytes of expert-dispatch payloads the attention ranks sent (direction=sent) and received (direction=received).");

    public static readonly Histogram<double> DispatchLatency = s_meter.CreateHistogram("llama4.dispatch_seconds", "s",
        "Time one MoE layer's dispatch took on an attention rank: every shard's request out, every answer back.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = SecondsBuckets });

    static SiloTelemetry()
    {
        s_meter.CreateObservableGauge("llama4.kv_cache_bytes", ObserveKvBytes, "By", "Bytes the KV caches of an attention rank's sequences hold, after its latest step.");
        s_meter.CreateObservableGauge("llama4.kv_sequences", ObserveKvSequences, "{sequence}", "Sequences an attention rank holds state for, after its latest step.");
    }

    /// <summary>Publishes attention rank <paramref name="rank"/>'s KV use (after each step; the gauges read the latest).</summary>
    public static void ReportKv(int rank, long bytes, int sequences) => s_ranks[rank] = new RankKv(bytes, sequences);

    /// <summary>The rank left this silo (deactivated): its gauges are no longer reported here.</summary>
    public static void ForgetRank(int rank) => s_ranks.TryRemove(rank, out _);

    private static IEnumerable<Measurement<long>> ObserveKvBytes() =>
        s_ranks.Select(r => new Measurement<long>(r.Value.Bytes, new KeyValuePair<string, object?>("rank", r.Key)));

    private static IEnumerable<Measurement<long>> ObserveKvSequences() =>
        s_ranks.Select(r => new Measurement<long>(r.Value.Sequences, new KeyValuePair<string, object?>("rank", r.Key)));

    private readonly record struct RankKv(long Bytes, int Sequences);
}

using System.Globalization;
using System.Text;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// The gateway's request metrics under vLLM's Prometheus names (so existing vLLM dashboards work), label
/// <c>model_name</c>. Latencies are measured in the HTTP layer: request arrival → first token, between tokens, arrival
/// → end. Running/waiting/KV gauges come from <see cref="IGenerationScheduler.Snapshot"/> when rendered. Each sequence
/// (choice) counts as one request, as in vLLM V1 where <c>n</c> &gt; 1 becomes child requests. Thread-safe.
/// </summary>
public sealed class GatewayMetrics
{
    /// <summary>vLLM's <c>finished_reason</c> label values.</summary>
    public static readonly IReadOnlyList<string> FinishedReasons = ["stop", "length", "abort"];

    // vLLM's bucket bounds (vllm/v1/metrics/loggers.py).
    private static readonly double[] TimeToFirstTokenBuckets =
        [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];

    private static readonly double[] InterTokenBuckets =
        [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];

    private static readonly double[] RequestLatencyBuckets =
        [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

    private readonly string _labels;
    private readonly PrometheusHistogram _timeToFirstToken = new(TimeToFirstTokenBuckets);
    private readonly PrometheusHistogram _interToken = new(InterTokenBuckets);
    private readonly PrometheusHistogram _stall = new(InterTokenBuckets);
    private readonly PrometheusHistogram _e2eLatency = new(RequestLatencyBuckets);
    private readonly PrometheusHistogram _promptTokens;
    private readonly PrometheusHistogram _generationTokens;
    private readonly long[] _finished = new long[3];
    private long _promptTokensTotal;
    private long _generationTokensTotal;
    private long _prefixCacheQueries;
    private long _prefixCacheHits;

    private readonly RankActivity? _ranks;

    /// <param name="model">The served model (its name labels every metric).</param>
    /// <param name="ranks">The ranks' reported dispatch counters, when the gateway watches a cluster.</param>
    public GatewayMetrics(ServedModel model, RankActivity? ranks = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _ranks = ranks;
        _labels = $"model_name=\"{PrometheusText.LabelValue(model.Id)}\"";
        var tokenBuckets = OneTwoFiveBuckets(model.MaxModelLength);
        _promptTokens = new PrometheusHistogram(tokenBuckets);
        _generationTokens = new PrometheusHistogram(tokenBuckets);
    }

    public long PromptTokensTotal => Interlocked.Read(ref _promptTokensTotal);

    public long GenerationTokensTotal => Interlocked.Read(ref _generationTokensTotal);

    /// <summary>Prompt tokens looked up in the ranks' prefix caches (vLLM's <c>prefix_cache_queries</c>: every prompt token).</summary>
    public long PrefixCacheQueries => Interlocked.Read(ref _prefixCacheQueries);

    /// <summary>Prompt tokens found there (vLLM's <c>prefix_cache_hits</c>; hits ÷ queries is the hit rate).</summary>
    public long PrefixCacheHits => Interlocked.Read(ref _prefixCacheHits);

    /// <summary>A sequence's first token: its prompt has been processed, <paramref name="cachedTokens"/> of it from a prefix cache.</summary>
    public void RecordFirstToken(TimeSpan sinceArrival, int promptTokens, int cachedTokens = 0)
    {
        _timeToFirstToken.Observe(sinceArrival.TotalSeconds);
        Interlocked.Add(ref _promptTokensTotal, promptTokens);
        Interlocked.Add(ref _prefixCacheQueries, promptTokens);
        Interlocked.Add(ref _prefixCacheHits, Math.Min(cachedTokens, promptTokens));
        Interlocked.Increment(ref _generationTokensTotal);
    }

    /// <summary>A later token of a sequence.</summary>
    public void RecordNextToken(TimeSpan sincePreviousToken)
    {
        _interToken.Observe(sincePreviousToken.TotalSeconds);
        Interlocked.Increment(ref _generationTokensTotal);
    }

    /// <summary>A sequence ended: <paramref name="reason"/> is one of <see cref="FinishedReasons"/>; <paramref name="longestGap"/>
    /// is its longest wait between two tokens (given for sequences that ended normally: the stall histogram).</summary>
    public void RecordFinished(string reason, TimeSpan sinceArrival, int promptTokens, int generationTokens, TimeSpan? longestGap = null)
    {
        if (longestGap is { } gap && generationTokens > 1) _stall.Observe(gap.TotalSeconds);
        var index = reason switch
        {
            "stop" or "tool_calls" => 0, // the engine stopped; that the answer holds calls is the API's reading of it
            "length" => 1,
            _ => 2,
        };
        Interlocked.Increment(ref _finished[index]);
        _e2eLatency.Observe(sinceArrival.TotalSeconds);
        _promptTokens.Observe(promptTokens);
        _generationTokens.Observe(generationTokens);
    }

    /// <summary>The Prometheus text exposition of every metric.</summary>
    public string Render(SchedulerSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var text = new StringBuilder(8192);
        Gauge(text, "vllm:num_requests_running", "Number of requests in model execution batches.", snapshot.Running);
        Gauge(text, "vllm:num_requests_waiting", "Number of requests waiting to be processed.", snapshot.Waiting);
        Gauge(text, "vllm:kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", snapshot.KvUsage);
        Gauge(text, "vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage. Deprecated: use vllm:kv_cache_usage_perc.", snapshot.KvUsage);
        Counter(text, "vllm:prompt_tokens_total", "Number of prefill tokens processed.", PromptTokensTotal);
        // vLLM's counters vllm:prefix_cache_queries / vllm:prefix_cache_hits, as its Prometheus client exposes them (_total).
        Counter(text, "vllm:prefix_cache_queries_total", "Prefix cache queries, in terms of number of queried tokens.", PrefixCacheQueries);
        Counter(text, "vllm:prefix_cache_hits_total", "Prefix cache hits, in terms of number of cached tokens.", PrefixCacheHits);
        Counter(text, "llama4:failovers_total", "Sequences moved to another attention rank after their rank failed (each re-prefilled there).", snapshot.Failovers);
        Counter(text, "llama4:reprefilled_tokens_total", "Tokens fed again by failovers (prompt and generated tokens of each moved sequence).", snapshot.ReprefilledTokens);
        Counter(text, "llama4:failed_rank_steps_total", "Attention-rank steps that failed.", snapshot.FailedRankSteps);
        Gauge(text, "llama4:attention_ranks_up", "Attention ranks taking sequences now (a failed rank is out until a probe reaches it).", snapshot.RanksUp);
        Gauge(text, "llama4:attention_ranks", "Attention ranks of the cluster.", snapshot.Ranks);
        if (_ranks is not null)
        {
            Counter(text, "llama4:expert_dispatch_retries_total", "Expert dispatches the attention ranks sent again (to another replica, or after a pause), as last reported.", _ranks.DispatchRetries);
            Gauge(text, "llama4:expert_replicas_down", "Expert-shard replicas out of rotation now, summed over the attention ranks, as last reported.", _ranks.ReplicasDown);
            Counter(text, "llama4:expert_dispatch_hedges_total", "Expert dispatches the attention ranks also sent to a second replica because the first had not answered by the hedge time, as last reported.", _ranks.DispatchHedges);
            ReplicaGauges(text, _ranks);
        }
        Counter(text, "vllm:generation_tokens_total", "Number of generation tokens processed.", GenerationTokensTotal);
        PrometheusText.Header(text, "vllm:request_success_total", "counter", "Count of successfully processed requests.");
        for (var i = 0; i < FinishedReasons.Count; i++)
        {
            PrometheusText.Sample(text, "vllm:request_success_total", $"{_labels},finished_reason=\"{FinishedReasons[i]}\"", Interlocked.Read(ref _finished[i]));
        }

        Histogram(text, "vllm:time_to_first_token_seconds", "Histogram of time to first token in seconds.", _timeToFirstToken);
        Histogram(text, "vllm:inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", _interToken);
        Histogram(text, "vllm:time_per_output_token_seconds", "Histogram of time per output token in seconds. Deprecated: use vllm:inter_token_latency_seconds.", _interToken);
        Histogram(text, "vllm:e2e_request_latency_seconds", "Histogram of e2e request latency in seconds.", _e2eLatency);
        Histogram(text, "llama4:sequence_max_stall_seconds", "Histogram of each finished sequence's longest wait between two of its tokens (a failover shows here as a stall).", _stall);
        Histogram(text, "vllm:request_prompt_tokens", "Number of prefill tokens processed.", _promptTokens);
        Histogram(text, "vllm:request_generation_tokens", "Number of generation tokens processed.", _generationTokens);
        return text.ToString();
    }

    /// <summary>vLLM's <c>build_1_2_5_buckets</c>: 1, 2, 5, 10, 20, 50, … up to <paramref name="max"/>.</summary>
    private static List<double> OneTwoFiveBuckets(int max)
    {
        var buckets = new List<double>();
        for (double exponent = 1; ; exponent *= 10)
        {
            foreach (var mantissa in (ReadOnlySpan<int>)[1, 2, 5])
            {
                var value = mantissa * exponent;
                if (value > max)
                {
                    return buckets;
                }

                buckets.Add(value);
            }
        }
    }

    private void Gauge(StringBuilder text, string name, string help, double value)
    {
        PrometheusText.Header(text, name, "gauge", help);
        PrometheusText.Sample(text, name, _labels, value);
    }

    private void Counter(StringBuilder text, string name, string help, double value)
    {
        PrometheusText.Header(text, name, "counter", help);
        PrometheusText.Sample(text, name, _labels, value);
    }

    /// <summary>Replicas per expert shard, the fewest live for any shard, and the live count of each degraded shard (a
    /// shard with every replica live is not listed).</summary>
    private void ReplicaGauges(StringBuilder text, RankActivity ranks)
    {
        int replicas = ranks.ExpertReplicas;
        if (replicas == 0) return; // no rank has reported yet
        var degraded = ranks.DegradedShards();
        Gauge(text, "llama4:expert_shard_replicas", "Replicas of every expert shard (--expert-replicas).", replicas);
        Gauge(text, "llama4:expert_shard_replicas_live_min", "The fewest live replicas of any expert shard, as the attention ranks last reported (0: a shard waits for re-activation).",
            degraded.Count == 0 ? replicas : degraded.Values.Min());
        PrometheusText.Header(text, "llama4:expert_shard_replicas_live", "gauge", "Live replicas of each expert shard that has a replica out of rotation (healthy shards are not listed).");
        foreach (var ((layer, shard), live) in degraded.OrderBy(d => d.Key))
            PrometheusText.Sample(text, "llama4:expert_shard_replicas_live", string.Create(CultureInfo.InvariantCulture, $"{_labels},layer=\"{layer}\",shard=\"{shard}\""), live);
    }

    private void Histogram(StringBuilder text, string name, string help, PrometheusHistogram histogram)
    {
        PrometheusText.Header(text, name, "histogram", help);
        histogram.WriteSamples(text, name, _labels);
    }
}

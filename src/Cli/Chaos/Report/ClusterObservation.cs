using System.Globalization;

namespace Llama4Cluster.Cli.Chaos.Report;

/// <summary>
/// One look at the gateway during a drill: <c>GET /ready</c>'s status (null: no answer at all) and the failover counters
/// of <c>GET /metrics</c> (null when it gave none).
/// </summary>
public sealed record ClusterSample(long Timestamp, int? ReadyStatus, double? Failovers, double? FailedRankSteps, double? RanksUp)
{
    public bool Ready => ReadyStatus == 200;

    /// <summary>The Prometheus metrics a drill watches.</summary>
    public const string FailoversMetric = "llama4:failovers_total";
    public const string FailedRankStepsMetric = "llama4:failed_rank_steps_total";
    public const string RanksUpMetric = "llama4:attention_ranks_up";

    /// <summary>A sample from <c>/ready</c>'s status and <c>/metrics</c>' text (either may be missing).</summary>
    public static ClusterSample From(long timestamp, int? readyStatus, string? metrics) =>
        new(timestamp, readyStatus, Metric(metrics, FailoversMetric), Metric(metrics, FailedRankStepsMetric), Metric(metrics, RanksUpMetric));

    /// <summary>The sum of every sample of <paramref name="name"/> (any labels) in a Prometheus text exposition; null when absent.</summary>
    public static double? Metric(string? text, string name)
    {
        if (text is null) return null;
        double? sum = null;
        foreach (var raw in text.Split('\n'))
        {
            string line = raw.Trim();
            if (line.Length == 0 || line[0] == '#' || !line.StartsWith(name, StringComparison.Ordinal)) continue;
            // The name must end here: "name value" or "name{labels} value".
            if (line.Length > name.Length && line[name.Length] is not (' ' or '{')) continue;
            string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 2 && double.TryParse(parts[^1], NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) sum = (sum ?? 0) + v;
            else if (parts.Length >= 3 && double.TryParse(parts[^2], NumberStyles.Float, CultureInfo.InvariantCulture, out double w)) sum = (sum ?? 0) + w; // with a timestamp
        }
        return sum;
    }
}

/// <summary>When the cluster showed a fault and when it had recovered, from the samples and the streams of a round.</summary>
public static class FaultTiming
{
    /// <summary>
    /// Time from <paramref name="fault"/> to the first sign of it: <c>/ready</c> not 200 (or no answer), a failover or a
    /// failed rank step counted, fewer attention ranks up than before, or a stream failing. Null when nothing showed it.
    /// </summary>
    public static double? DetectSeconds(long fault, IReadOnlyList<ClusterSample> samples, IEnumerable<StreamRecord> streams)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(streams);
        var before = samples.LastOrDefault(s => s.Timestamp <= fault);
        long? first = samples.Where(s => s.Timestamp > fault && Unhealthy(s, before)).Select(s => (long?)s.Timestamp).FirstOrDefault();
        foreach (var failed in streams.Where(s => s.Error is not null && s.EndTimestamp > fault))
            if (first is null || failed.EndTimestamp < first) first = failed.EndTimestamp;
        return first is { } t ? Seconds(fault, t) : null;
    }

    /// <summary>
    /// Time from <paramref name="fault"/> until the cluster served again: the later of the first <c>/ready</c> 200 after the
    /// last sample that was not ready (when there was one: a rolling restart has several such stretches) and the first token
    /// after the fault of every stream that was running at the fault and survived it. Null when neither can be seen, or when
    /// the gateway was not ready again by the last sample.
    /// </summary>
    public static double? HealSeconds(long fault, IReadOnlyList<ClusterSample> samples, IEnumerable<StreamRecord> streams)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(streams);
        long? healed = null;
        int lastBad = -1;
        for (int i = 0; i < samples.Count; i++)
            if (samples[i].Timestamp > fault && !samples[i].Ready) lastBad = i;
        if (lastBad >= 0)
        {
            var back = samples.Skip(lastBad + 1).FirstOrDefault(s => s.Ready);
            if (back is null) return null; // never ready again while observed
            healed = back.Timestamp;
        }
        foreach (var s in streams.Where(s => s.RunningAt(fault) && s.Completed))
            if (s.FirstEventAfter(fault) is { } next && (healed is null || next > healed)) healed = next;
        return healed is { } h ? Seconds(fault, h) : null;
    }

    private static bool Unhealthy(ClusterSample s, ClusterSample? before) =>
        !s.Ready
        || (s.Failovers ?? 0) > (before?.Failovers ?? 0)
        || (s.FailedRankSteps ?? 0) > (before?.FailedRankSteps ?? 0)
        || (before?.RanksUp is { } up && s.RanksUp is { } now && now < up);

    public static double Seconds(long from, long to) => (to - from) / (double)System.Diagnostics.Stopwatch.Frequency;
}

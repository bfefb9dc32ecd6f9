using System.Globalization;
using System.Text;
using OpenTelemetry.Metrics;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// One OpenTelemetry metric in the Prometheus text format (0.0.4). Names: a leading <c>llama4.</c> becomes the
/// <c>llama4:</c> namespace (vLLM's style, <c>vllm:</c>), any other character outside <c>[a-zA-Z0-9_:]</c> becomes
/// <c>_</c>, the unit is appended for seconds and bytes unless the name ends with it, and counters end in <c>_total</c>.
/// Tags become labels. Histograms write cumulative <c>_bucket{le=…}</c>, <c>_sum</c> and <c>_count</c>; exponential
/// histograms are not written.
/// </summary>
public static class PrometheusMetricText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static void Write(StringBuilder text, Metric metric)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(metric);
        var type = metric.MetricType;
        if (type == MetricType.ExponentialHistogram) return;
        bool counter = type is MetricType.LongSum or MetricType.DoubleSum;
        string name = Name(metric.Name, metric.Unit, counter);
        string kind = counter ? "counter" : type == MetricType.Histogram ? "histogram" : "gauge";
        text.Append("# HELP ").Append(name).Append(' ').Append(Help(metric.Description)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(kind).Append('\n');
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            string labels = Labels(point);
            switch (type)
            {
                case MetricType.LongSum or MetricType.LongSumNonMonotonic:
                    Sample(text, name, labels, point.GetSumLong());
                    break;
                case MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic:
                    Sample(text, name, labels, point.GetSumDouble());
                    break;
                case MetricType.LongGauge:
                    Sample(text, name, labels, point.GetGaugeLastValueLong());
                    break;
                case MetricType.DoubleGauge:
                    Sample(text, name, labels, point.GetGaugeLastValueDouble());
                    break;
                case MetricType.Histogram:
                    Histogram(text, name, labels, point);
                    break;
            }
        }
    }

    /// <summary>The Prometheus name of an instrument (see the class summary).</summary>
    public static string Name(string instrument, string? unit, bool counter)
    {
        ArgumentNullException.ThrowIfNull(instrument);
        var name = new StringBuilder(instrument.Length + 16);
        string rest = instrument;
        if (instrument.StartsWith("llama4.", StringComparison.Ordinal))
        {
            name.Append("llama4:");
            rest = instrument["llama4.".Length..];
        }
        foreach (char c in rest) name.Append(char.IsAsciiLetterOrDigit(c) || c is '_' or ':' ? c : '_');
        string suffix = unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => "",
        };
        if (suffix.Length > 0 && !EndsWith(name, suffix) && !(counter && EndsWith(name, suffix + "_total"))) name.Append(suffix);
        if (counter && !EndsWith(name, "_total")) name.Append("_total");
        return name.ToString();
    }

    private static bool EndsWith(StringBuilder name, string suffix) =>
        name.Length >= suffix.Length && name.ToString(name.Length - suffix.Length, suffix.Length) == suffix;

    private static string Help(string? description) =>
        string.IsNullOrEmpty(description) ? "(no description)" : description.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string Labels(in MetricPoint point)
    {
        var labels = new StringBuilder();
        foreach (var tag in point.Tags)
        {
            if (labels.Length > 0) labels.Append(',');
            foreach (char c in tag.Key) labels.Append(char.IsAsciiLetterOrDigit(c) || c == '_' ? c : '_');
            labels.Append("=\"").Append(LabelValue(Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? "")).Append('"');
        }
        return labels.ToString();
    }

    private static string LabelValue(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static void Histogram(StringBuilder text, string name, string labels, in MetricPoint point)
    {
        long cumulative = 0;
        string separator = labels.Length > 0 ? "," : "";
        foreach (var bucket in point.GetHistogramBuckets())
        {
            cumulative += bucket.BucketCount;
            Sample(text, name + "_bucket", $"{labels}{separator}le=\"{Number(bucket.ExplicitBound)}\"", cumulative);
        }
        Sample(text, name + "_sum", labels, point.GetHistogramSum());
        Sample(text, name + "_count", labels, point.GetHistogramCount());
    }

    private static void Sample(StringBuilder text, string name, string labels, double value)
    {
        text.Append(name);
        if (labels.Length > 0) text.Append('{').Append(labels).Append('}');
        text.Append(' ').Append(Number(value)).Append('\n');
    }

    private static string Number(double value) =>
        double.IsPositiveInfinity(value) ? "+Inf"
        : double.IsNegativeInfinity(value) ? "-Inf"
        : double.IsNaN(value) ? "NaN"
        : value.ToString("R", CultureInfo.InvariantCulture);
}

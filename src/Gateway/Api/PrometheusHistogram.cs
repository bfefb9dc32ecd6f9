using System.Globalization;
using System.Text;

namespace Llama4Cluster.Gateway.Api;

/// <summary>A Prometheus histogram (cumulative <c>_bucket{le=...}</c>, <c>_sum</c>, <c>_count</c>). Thread-safe.</summary>
internal sealed class PrometheusHistogram
{
    private readonly double[] _bounds;
    private readonly long[] _counts;
    private readonly Lock _lock = new();
    private double _sum;
    private long _count;

    /// <param name="bounds">Ascending upper bounds; +Inf is implied.</param>
    public PrometheusHistogram(IReadOnlyList<double> bounds)
    {
        _bounds = [.. bounds];
        _counts = new long[_bounds.Length];
    }

    public void Observe(double value)
    {
        var bucket = Array.BinarySearch(_bounds, value);
        if (bucket < 0)
        {
            bucket = ~bucket; // first bound above the value; le is inclusive, so an exact hit stays in its bucket
        }

        lock (_lock)
        {
            if (bucket < _counts.Length)
            {
                _counts[bucket]++;
            }

            _sum += value;
            _count++;
        }
    }

    /// <summary>Appends the samples (no HELP/TYPE) with <paramref name="labels"/> (<c>name="value"</c>, comma-joined).</summary>
    public void WriteSamples(StringBuilder text, string name, string labels)
    {
        long[] counts;
        double sum;
        long count;
        lock (_lock)
        {
            counts = (long[])_counts.Clone();
            sum = _sum;
            count = _count;
        }

        long cumulative = 0;
        for (var i = 0; i < _bounds.Length; i++)
        {
            cumulative += counts[i];
            text.Append(name).Append("_bucket{").Append(labels).Append(",le=\"")
                .Append(PrometheusText.Number(_bounds[i])).Append("\"} ").Append(cumulative).Append('\n');
        }

        text.Append(name).Append("_bucket{").Append(labels).Append(",le=\"+Inf\"} ").Append(count).Append('\n');
        text.Append(name).Append("_sum{").Append(labels).Append("} ").Append(PrometheusText.Number(sum)).Append('\n');
        text.Append(name).Append("_count{").Append(labels).Append("} ").Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}

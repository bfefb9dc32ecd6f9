namespace Llama4Cluster.Cli.Serving;

/// <summary>Summary statistics of latency samples, with numpy's definitions (vLLM <c>bench serve</c> uses numpy).</summary>
public static class LatencyStatistics
{
    /// <summary>
    /// numpy.percentile's default ("linear"): sort the n samples, take rank r = p/100 × (n − 1), interpolate linearly
    /// between the samples at floor(r) and ceil(r). NaN for no samples.
    /// </summary>
    public static double Percentile(IEnumerable<double> samples, double percent)
    {
        ArgumentNullException.ThrowIfNull(samples);
        if (!(percent is >= 0 and <= 100)) throw new ArgumentOutOfRangeException(nameof(percent), percent, "a percentile lies in [0, 100]");
        var sorted = samples.ToArray();
        if (sorted.Length == 0) return double.NaN;
        Array.Sort(sorted);
        double rank = percent / 100 * (sorted.Length - 1);
        int lower = (int)Math.Floor(rank);
        int upper = Math.Min(lower + 1, sorted.Length - 1);
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (rank - lower);
    }

    public static double Median(IEnumerable<double> samples) => Percentile(samples, 50);

    /// <summary>The arithmetic mean; NaN for no samples.</summary>
    public static double Mean(IEnumerable<double> samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        double sum = 0;
        int n = 0;
        foreach (double s in samples)
        {
            sum += s;
            n++;
        }
        return n == 0 ? double.NaN : sum / n;
    }
}

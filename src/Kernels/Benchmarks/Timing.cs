using System.Diagnostics;

namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>Median-of-batches timing: machines here are shared and noisy, so medians, never single runs.</summary>
internal static class Timing
{
    /// <summary>Seconds per call of <paramref name="action"/>: warm-up, then batches for about <paramref name="seconds"/>, median batch.</summary>
    public static double SecondsPerCall(Action action, double seconds)
    {
        for (int i = 0; i < 3; i++) action();
        var probe = Stopwatch.StartNew();
        action();
        double one = Math.Max(probe.Elapsed.TotalSeconds, 1e-7);
        int perBatch = (int)Math.Clamp(0.05 / one, 1, 100_000);
        var samples = new List<double>();
        var total = Stopwatch.StartNew();
        while (total.Elapsed.TotalSeconds < seconds || samples.Count < 5)
        {
            var w = Stopwatch.StartNew();
            for (int i = 0; i < perBatch; i++) action();
            samples.Add(w.Elapsed.TotalSeconds / perBatch);
            if (samples.Count >= 200) break;
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }
}

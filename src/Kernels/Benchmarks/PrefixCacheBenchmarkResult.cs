namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>
/// What <see cref="PrefixCacheBenchmark"/> measured: time to first token (ms, medians over the rounds) of a request whose
/// system prompt the cache has never seen and of one whose system prompt it holds, and their ratio, all in one run.
/// </summary>
public sealed record PrefixCacheBenchmarkResult(
    string Model,
    string Machine,
    string DType,
    int SystemTokens,
    int PromptTokens,
    int BlockSize,
    int CachedTokens,
    IReadOnlyList<double> ColdMs,
    IReadOnlyList<double> CachedMs)
{
    public double ColdMedianMs => Median(ColdMs);

    public double CachedMedianMs => Median(CachedMs);

    /// <summary>Cold ÷ cached time to first token (how many times faster a cached system prompt answers).</summary>
    public double Speedup => CachedMedianMs > 0 ? ColdMedianMs / CachedMedianMs : 0;

    private static double Median(IReadOnlyList<double> xs)
    {
        if (xs.Count == 0) return 0;
        var sorted = xs.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}

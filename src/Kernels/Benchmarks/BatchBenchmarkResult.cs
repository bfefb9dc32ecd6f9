namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>What <see cref="BatchBenchmark"/> measured, one row per batch size, in one run on one loaded engine.</summary>
public sealed record BatchBenchmarkResult(
    string Model,
    string Machine,
    string DType,
    int Threads,
    double LoadSeconds,
    int PromptTokens,
    int GenTokens,
    IReadOnlyList<BatchBenchmarkRow> Rows)
{
    /// <summary>Decode tokens/s of <paramref name="row"/> over that of the batch-1 row (null when batch 1 was not measured).</summary>
    public double? DecodeRatioToBatch1(BatchBenchmarkRow row)
    {
        ArgumentNullException.ThrowIfNull(row);
        var one = Rows.FirstOrDefault(r => r.Batch == 1);
        return one is { DecodeTokensPerSecond: > 0 } ? row.DecodeTokensPerSecond / one.DecodeTokensPerSecond : null;
    }
}

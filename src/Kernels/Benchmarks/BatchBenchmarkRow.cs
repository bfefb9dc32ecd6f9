namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>
/// One batch size of <see cref="BatchBenchmark"/>: tokens fed and wall seconds of the prefill (every prompt into its
/// cache, the first token of each sampled) and of the decode (every later step, one token per sequence), counted from the
/// scheduler's steps, not from the settings.
/// </summary>
public sealed record BatchBenchmarkRow(int Batch, int PrefillTokens, double PrefillSeconds, int DecodeTokens, double DecodeSeconds, int Steps)
{
    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PrefillTokens / PrefillSeconds : 0;

    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? DecodeTokens / DecodeSeconds : 0;
}

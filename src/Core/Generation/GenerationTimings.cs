namespace Llama4Cluster.Core.Generation;

/// <summary>
/// Where a generation spent its time. Prefill covers the steps that process prompt tokens, decode the
/// steps after every prompt is in the cache; loading is reported separately and excluded from the rates.
/// </summary>
public sealed record GenerationTimings(double PrefillSeconds, int PrefillTokens, double DecodeSeconds, int DecodeTokens, int Steps)
{
    public double PrefillTokensPerSecond => PrefillSeconds > 0 ? PrefillTokens / PrefillSeconds : 0;
    public double DecodeTokensPerSecond => DecodeSeconds > 0 ? DecodeTokens / DecodeSeconds : 0;
}

namespace Llama4Cluster.Core.Config;

/// <summary>
/// Llama 3 style frequency scaling of RoPE (spec §2.4). <c>null</c> on a config means plain RoPE.
/// </summary>
/// <param name="Factor">Divisor applied to low frequencies (Scout: 16).</param>
/// <param name="LowFreqFactor">Scout: 1.</param>
/// <param name="HighFreqFactor">Scout: 1. Equal to <paramref name="LowFreqFactor"/> means the smooth band is empty.</param>
/// <param name="OriginalMaxPositionEmbeddings">L0 in the spec (Scout: 8192).</param>
public sealed record RopeScaling(double Factor, double LowFreqFactor, double HighFreqFactor, int OriginalMaxPositionEmbeddings);

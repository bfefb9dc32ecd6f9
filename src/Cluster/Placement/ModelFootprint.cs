using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// The memory a model needs, split the way the cluster holds it: routed experts (sharded over the
/// expert devices) and everything else (held whole by every attention rank), plus the KV cache per
/// sequence. Bytes, from the config's parameter counts (spec §1.4).
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.ModelFootprint")]
public sealed record ModelFootprint
{
    /// <summary>
    /// Bytes of one FP8 per-output-row weight scale. The release's scale dtype is unverified (spec §3.2,
    /// bf16 or f32); planning with f32 over-counts by at most 2·(2F + D) bytes per expert.
    /// </summary>
    public const int Fp8ScaleBytes = 4;

    /// <summary>KV cache entries are bf16.</summary>
    public const int KvElementBytes = 2;

    [Id(0)] public required WeightDType DType { get; init; }
    /// <summary>Indices of the MoE layers.</summary>
    [Id(1)] public required System.Collections.Immutable.ImmutableArray<int> MoeLayers { get; init; }
    [Id(2)] public required int ExpertsPerLayer { get; init; }
    /// <summary>Parameters of one routed expert (gate, up, down: 3·D·F).</summary>
    [Id(3)] public required long ExpertParameters { get; init; }
    /// <summary>Bytes of one routed expert in <see cref="DType"/> (FP8: weights plus 2F + D row scales).</summary>
    [Id(4)] public required long ExpertBytes { get; init; }
    /// <summary>Parameters outside the routed experts: attention, dense MLPs, shared experts, routers, norms, embeddings, lm_head.</summary>
    [Id(5)] public required long NonExpertParameters { get; init; }
    /// <summary>Bytes of the non-expert weights (always bf16).</summary>
    [Id(6)] public required long NonExpertBytes { get; init; }
    [Id(7)] public required long TotalParameters { get; init; }
    [Id(8)] public required long ActiveParameters { get; init; }
    /// <summary>KV bytes one token adds to a layer's cache: 2 · KV heads · head_dim · 2 B.</summary>
    [Id(9)] public required long KvBytesPerTokenPerLayer { get; init; }
    [Id(10)] public required int Layers { get; init; }
    /// <summary>Layers whose cache is capped at the attention chunk (RoPE layers), and the chunk.</summary>
    [Id(11)] public required int ChunkedLayers { get; init; }
    [Id(12)] public required int? ChunkSize { get; init; }

    /// <summary>All routed experts of all MoE layers, one copy.</summary>
    public long RoutedExpertBytes => (long)MoeLayers.Length * ExpertsPerLayer * ExpertBytes;

    /// <summary>
    /// KV bytes of one sequence holding <paramref name="contextTokens"/> tokens. Chunked (RoPE) layers keep at
    /// most one chunk (as <c>LayerKvCache</c> does), global (NoPE) layers keep the whole context.
    /// </summary>
    public long KvBytesPerSequence(int contextTokens)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(contextTokens);
        long chunked = ChunkSize is { } c ? Math.Min(contextTokens, c) : contextTokens;
        return KvBytesPerTokenPerLayer * (ChunkedLayers * chunked + (long)(Layers - ChunkedLayers) * contextTokens);
    }

    public static ModelFootprint For(Llama4TextConfig config, WeightDType dtype)
    {
        ArgumentNullException.ThrowIfNull(config);
        var moe = Enumerable.Range(0, config.NumHiddenLayers).Where(config.IsMoeLayer).ToArray();
        long expertParameters = moe.Length == 0 ? 0 : config.ExpertParameters;
        long expertBytes = dtype switch
        {
            WeightDType.Bf16 => 2 * expertParameters,
            // gate [F, D] and up [F, D] have F output rows each, down [D, F] has D.
            WeightDType.Fp8 => expertParameters + Fp8ScaleBytes * (2L * config.IntermediateSize + config.HiddenSize),
            _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
        };
        long nonExpert = config.TotalParameters - (long)moe.Length * config.NumLocalExperts * expertParameters;
        return new ModelFootprint
        {
            DType = dtype,
            MoeLayers = [.. moe],
            ExpertsPerLayer = moe.Length == 0 ? 0 : config.NumLocalExperts,
            ExpertParameters = expertParameters,
            ExpertBytes = moe.Length == 0 ? 0 : expertBytes,
            NonExpertParameters = nonExpert,
            NonExpertBytes = 2 * nonExpert,
            TotalParameters = config.TotalParameters,
            ActiveParameters = config.ActiveParameters,
            KvBytesPerTokenPerLayer = 2L * config.NumKeyValueHeads * config.HeadDim * KvElementBytes,
            Layers = config.NumHiddenLayers,
            ChunkedLayers = config.AttentionChunkSize is null ? 0 : Enumerable.Range(0, config.NumHiddenLayers).Count(config.IsRopeLayer),
            ChunkSize = config.AttentionChunkSize,
        };
    }
}

using System.Collections.Immutable;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// What one attention rank holds, layer by layer, so that the planner can cut it into pipeline stages that each fit one
/// device: per layer the non-expert weights (attention projections and norms, plus the dense MLP of a dense layer, or the
/// router and — unless <see cref="SharedExperts"/> is <see cref="SharedExpertPlacement.Shards"/> — the shared expert of a
/// MoE layer) and the layer's share of the rank's KV budget; the embeddings go with the first stage, the final norm and
/// lm_head with the last. Bytes; weights bf16 (spec §1.4 arithmetic, the same sums as <see cref="ModelFootprint"/>:
/// with shared experts on the rank, the layers plus embeddings plus head are its <see cref="ModelFootprint.NonExpertBytes"/>).
/// </summary>
public sealed record RankFootprint
{
    /// <summary>Per layer: non-expert weight bytes the rank holds for it.</summary>
    public required ImmutableArray<long> LayerWeightBytes { get; init; }
    /// <summary>Per layer: the layer's KV budget bytes (all of them sum to the rank's KV budget).</summary>
    public required ImmutableArray<long> LayerKvBytes { get; init; }
    /// <summary>Token embeddings (V·D·2 B), held by the first stage.</summary>
    public required long EmbeddingBytes { get; init; }
    /// <summary>Final norm and lm_head ((V·D + D)·2 B), held by the last stage.</summary>
    public required long HeadBytes { get; init; }
    /// <summary>One MoE layer's shared expert (3·D·F·2 B; the release keeps it bf16 in FP8 checkpoints too).</summary>
    public required long SharedExpertBytes { get; init; }
    public required SharedExpertPlacement SharedExperts { get; init; }

    public int Layers => LayerWeightBytes.Length;

    public long WeightBytes => LayerWeightBytes.Sum() + EmbeddingBytes + HeadBytes;

    public long KvBytes => LayerKvBytes.Sum();

    /// <summary>Weights and KV of the stage that holds <paramref name="layers"/> of the rank.</summary>
    public (long Weights, long Kv) Stage(StageLayers layers)
    {
        long weights = 0, kv = 0;
        for (int l = layers.First; l < layers.End; l++)
        {
            weights += LayerWeightBytes[l];
            kv += LayerKvBytes[l];
        }
        if (layers.First == 0) weights += EmbeddingBytes;
        if (layers.End == Layers) weights += HeadBytes;
        return (weights, kv);
    }

    /// <summary>
    /// The rank of <paramref name="config"/> with a KV budget of <paramref name="kvBytesPerRank"/>, spread over the layers in
    /// proportion to the tokens each layer's cache holds (a chunked RoPE layer at most one chunk of
    /// <paramref name="contextTokens"/>, a global NoPE layer all of them; as <see cref="ModelFootprint.KvBytesPerSequence"/>).
    /// </summary>
    public static RankFootprint For(Llama4TextConfig config, long kvBytesPerRank, int contextTokens, SharedExpertPlacement shared)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegative(kvBytesPerRank);
        long d = config.HiddenSize;
        long attention = 2 * d * config.NumAttentionHeads * config.HeadDim + 2 * d * config.NumKeyValueHeads * config.HeadDim + 2 * d;
        long sharedExpert = config.ExpertParameters;
        var weights = ImmutableArray.CreateBuilder<long>(config.NumHiddenLayers);
        var tokens = new long[config.NumHiddenLayers];
        for (int l = 0; l < config.NumHiddenLayers; l++)
        {
            long ffn = config.IsMoeLayer(l)
                ? config.NumLocalExperts * d + (shared == SharedExpertPlacement.Rank ? sharedExpert : 0)
                : 3 * d * config.IntermediateSizeMlp;
            weights.Add(2 * (attention + ffn));
            bool chunked = config.AttentionChunkSize is not null && config.IsRopeLayer(l);
            tokens[l] = chunked ? Math.Min(contextTokens, config.AttentionChunkSize!.Value) : contextTokens;
        }
        return new RankFootprint
        {
            LayerWeightBytes = weights.MoveToImmutable(),
            LayerKvBytes = Apportion(kvBytesPerRank, tokens),
            EmbeddingBytes = 2L * config.VocabSize * d,
            HeadBytes = 2 * (config.VocabSize * d + d),
            SharedExpertBytes = 2 * sharedExpert,
            SharedExperts = shared,
        };
    }

    /// <summary><paramref name="total"/> split in proportion to <paramref name="weights"/> (evenly when they are all 0), summing exactly.</summary>
    private static ImmutableArray<long> Apportion(long total, long[] weights)
    {
        long sum = weights.Sum();
        var parts = ImmutableArray.CreateBuilder<long>(weights.Length);
        long cumulative = 0, given = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            cumulative += sum == 0 ? 1 : weights[i];
            long upTo = (long)((decimal)total * cumulative / (sum == 0 ? weights.Length : sum));
            parts.Add(upTo - given);
            given = upTo;
        }
        return parts.MoveToImmutable();
    }
}

namespace Llama4Cluster.Core.Config;

/// <summary>
/// The resolved text configuration of a Llama 4 model: every Hugging Face default applied and every
/// derived list computed (spec §1.1). Read one with <see cref="Llama4ConfigReader"/>; the raw JSON
/// shape lives in <see cref="Llama4TextConfigJson"/>.
/// </summary>
public sealed record Llama4TextConfig
{
    public required int VocabSize { get; init; }
    public required int HiddenSize { get; init; }
    /// <summary>F: routed and shared expert width.</summary>
    public required int IntermediateSize { get; init; }
    /// <summary>Fm: dense (non-MoE) layer width.</summary>
    public required int IntermediateSizeMlp { get; init; }
    public required int NumHiddenLayers { get; init; }
    public required int NumAttentionHeads { get; init; }
    public required int NumKeyValueHeads { get; init; }
    public required int HeadDim { get; init; }
    public required int NumLocalExperts { get; init; }
    public required int NumExpertsPerToken { get; init; }
    /// <summary>Per layer: true when the feed-forward block is MoE, false when it is a dense MLP.</summary>
    public required IReadOnlyList<bool> MoeLayers { get; init; }
    /// <summary>Per layer: true when the layer uses RoPE and chunked attention (HF <c>no_rope_layers[i] == 1</c>);
    /// false for NoPE layers (global attention, temperature tuning).</summary>
    public required IReadOnlyList<bool> RopeLayers { get; init; }
    public required double RopeTheta { get; init; }
    public RopeScaling? RopeScaling { get; init; }
    /// <summary>C: chunk size of the RoPE (local) layers. Null only when no layer is a RoPE layer.</summary>
    public int? AttentionChunkSize { get; init; }
    public required bool AttnTemperatureTuning { get; init; }
    public required double FloorScale { get; init; }
    public required double AttnScale { get; init; }
    public required bool UseQkNorm { get; init; }
    public required double RmsNormEps { get; init; }
    public int? BosTokenId { get; init; }
    public IReadOnlyList<int> EosTokenIds { get; init; } = [];
    public int? PadTokenId { get; init; }
    public int MaxPositionEmbeddings { get; init; }
    public bool TieWordEmbeddings { get; init; }

    public bool IsMoeLayer(int layer) => MoeLayers[layer];
    public bool IsRopeLayer(int layer) => RopeLayers[layer];

    /// <summary>Parameters per routed expert (gate + up + down).</summary>
    public long ExpertParameters => 3L * HiddenSize * IntermediateSize;

    /// <summary>Total text parameters implied by the config (spec §1.4 arithmetic).</summary>
    public long TotalParameters
    {
        get
        {
            long d = HiddenSize;
            long attention = 2 * d * NumAttentionHeads * HeadDim + 2 * d * NumKeyValueHeads * HeadDim;
            long total = 2L * VocabSize * d + d; // embeddings, lm_head, final norm
            for (int i = 0; i < NumHiddenLayers; i++)
            {
                total += attention + 2 * d;
                total += MoeLayers[i]
                    ? NumLocalExperts * ExpertParameters + ExpertParameters + NumLocalExperts * d
                    : 3 * d * IntermediateSizeMlp;
            }
            return total;
        }
    }

    /// <summary>Parameters touched per token: attention, top-k routed + shared expert or dense MLP, head.</summary>
    public long ActiveParameters
    {
        get
        {
            long d = HiddenSize;
            long attention = 2 * d * NumAttentionHeads * HeadDim + 2 * d * NumKeyValueHeads * HeadDim;
            long total = 2L * VocabSize * d + d;
            for (int i = 0; i < NumHiddenLayers; i++)
            {
                total += attention + 2 * d;
                total += MoeLayers[i]
                    ? (NumExpertsPerToken + 1) * ExpertParameters + NumLocalExperts * d
                    : 3 * d * IntermediateSizeMlp;
            }
            return total;
        }
    }

    /// <summary>
    /// Throws <see cref="InvalidDataException"/> with a message that says how to fix the config when
    /// the values cannot describe a Llama 4 text model.
    /// </summary>
    public void Validate(string source = "config")
    {
        void Require(bool ok, string message)
        {
            if (!ok) throw new InvalidDataException($"{source}: {message}");
        }
        Require(VocabSize > 0, "vocab_size must be positive");
        Require(HiddenSize > 0, "hidden_size must be positive");
        Require(NumHiddenLayers > 0, "num_hidden_layers must be positive");
        Require(NumAttentionHeads > 0 && NumKeyValueHeads > 0, "num_attention_heads and num_key_value_heads must be positive");
        Require(NumAttentionHeads % NumKeyValueHeads == 0,
            $"num_attention_heads ({NumAttentionHeads}) must be a multiple of num_key_value_heads ({NumKeyValueHeads})");
        Require(HeadDim > 0 && HeadDim % 2 == 0, $"head_dim ({HeadDim}) must be positive and even (RoPE rotates pairs)");
        Require(MoeLayers.Count == NumHiddenLayers, $"moe layer list has {MoeLayers.Count} entries for {NumHiddenLayers} layers");
        Require(RopeLayers.Count == NumHiddenLayers,
            $"no_rope_layers has {RopeLayers.Count} entries; it needs one per layer ({NumHiddenLayers})");
        bool anyMoe = MoeLayers.Any(m => m);
        Require(!anyMoe || NumLocalExperts > 0, "num_local_experts must be positive when there are MoE layers");
        Require(!anyMoe || (NumExpertsPerToken > 0 && NumExpertsPerToken <= NumLocalExperts),
            $"num_experts_per_tok ({NumExpertsPerToken}) must be between 1 and num_local_experts ({NumLocalExperts})");
        Require(!anyMoe || IntermediateSize > 0, "intermediate_size must be positive");
        Require(MoeLayers.All(m => m) || IntermediateSizeMlp > 0, "intermediate_size_mlp must be positive when there are dense layers");
        Require(!RopeLayers.Any(r => r) || AttentionChunkSize is > 0,
            "attention_chunk_size is null or not positive but some layers use RoPE with chunked attention " +
            "(Hugging Face transformers rejects this too); set attention_chunk_size or mark the layers NoPE in no_rope_layers");
        Require(RmsNormEps > 0, "rms_norm_eps must be positive");
        Require(FloorScale > 0, "floor_scale must be positive");
        if (RopeScaling is { } s)
        {
            Require(s.Factor > 0, "rope_scaling.factor must be positive");
            Require(s.OriginalMaxPositionEmbeddings > 0, "rope_scaling.original_max_position_embeddings must be positive");
            Require(s.HighFreqFactor >= s.LowFreqFactor, "rope_scaling.high_freq_factor must be >= low_freq_factor");
        }
    }
}

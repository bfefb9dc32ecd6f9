using System.Text.Json;
using System.Text.Json.Serialization;

namespace Llama4Cluster.Core.Config;

/// <summary>
/// The text part of a Hugging Face Llama 4 <c>config.json</c> as written (either the
/// <c>text_config</c> object of <c>Llama4ForConditionalGeneration</c> or the top level of a flat
/// <c>Llama4ForCausalLM</c> file). Absent fields are null; <see cref="Llama4ConfigReader"/> applies
/// the Hugging Face defaults. Fields whose JSON type varies between releases are kept as
/// <see cref="JsonElement"/> and interpreted by the reader.
/// </summary>
public sealed record Llama4TextConfigJson
{
    [JsonPropertyName("model_type")] public string? ModelType { get; init; }
    [JsonPropertyName("vocab_size")] public int? VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int? HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int? IntermediateSize { get; init; }
    [JsonPropertyName("intermediate_size_mlp")] public int? IntermediateSizeMlp { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int? NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int? NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    [JsonPropertyName("head_dim")] public int? HeadDim { get; init; }
    [JsonPropertyName("num_local_experts")] public int? NumLocalExperts { get; init; }
    [JsonPropertyName("num_experts_per_tok")] public int? NumExpertsPerTok { get; init; }
    [JsonPropertyName("interleave_moe_layer_step")] public int? InterleaveMoeLayerStep { get; init; }
    [JsonPropertyName("moe_layers")] public int[]? MoeLayers { get; init; }
    [JsonPropertyName("no_rope_layers")] public int[]? NoRopeLayers { get; init; }
    [JsonPropertyName("no_rope_layer_interval")] public int? NoRopeLayerInterval { get; init; }
    /// <summary>Newer files: "chunked_attention" (RoPE layers) or "full_attention" (NoPE layers).</summary>
    [JsonPropertyName("layer_types")] public string[]? LayerTypes { get; init; }
    [JsonPropertyName("rope_theta")] public double? RopeTheta { get; init; }
    /// <summary>Older files (all Meta Hub uploads): an object or null.</summary>
    [JsonPropertyName("rope_scaling")] public JsonElement? RopeScaling { get; init; }
    /// <summary>Files saved by transformers v5: {rope_type, rope_theta, factor, ...}.</summary>
    [JsonPropertyName("rope_parameters")] public JsonElement? RopeParameters { get; init; }
    [JsonPropertyName("attention_chunk_size")] public int? AttentionChunkSize { get; init; }
    /// <summary>True when the file says <c>"attention_chunk_size": null</c> (absent means the HF default 8192).</summary>
    [JsonIgnore] public bool AttentionChunkSizeIsNull { get; init; }
    /// <summary>A bool or an int (the Scout file has 4); any non-zero/true value enables it.</summary>
    [JsonPropertyName("attn_temperature_tuning")] public JsonElement? AttnTemperatureTuning { get; init; }
    [JsonPropertyName("floor_scale")] public double? FloorScale { get; init; }
    [JsonPropertyName("attn_scale")] public double? AttnScale { get; init; }
    [JsonPropertyName("use_qk_norm")] public bool? UseQkNorm { get; init; }
    [JsonPropertyName("rms_norm_eps")] public double? RmsNormEps { get; init; }
    [JsonPropertyName("hidden_act")] public string? HiddenAct { get; init; }
    [JsonPropertyName("attention_bias")] public bool? AttentionBias { get; init; }
    [JsonPropertyName("bos_token_id")] public JsonElement? BosTokenId { get; init; }
    /// <summary>An int or a list of ints.</summary>
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenId { get; init; }
    [JsonPropertyName("pad_token_id")] public JsonElement? PadTokenId { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int? MaxPositionEmbeddings { get; init; }
    [JsonPropertyName("tie_word_embeddings")] public bool? TieWordEmbeddings { get; init; }
}

using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama4Cluster.Core.Config;

/// <summary>
/// Writes a <see cref="Llama4TextConfig"/> as a Hugging Face <c>config.json</c>: either the
/// <c>Llama4ForConditionalGeneration</c> shape (text fields under <c>text_config</c>, no
/// <c>vision_config</c>: a text-only checkpoint) or the flat <c>Llama4ForCausalLM</c> shape.
/// Every derived list is written explicitly so that other readers need no defaults.
/// </summary>
public static class Llama4ConfigWriter
{
    /// <param name="c">The text config.</param>
    /// <param name="conditionalGeneration">The <c>Llama4ForConditionalGeneration</c> shape (else the flat text-only one).</param>
    /// <param name="imageTokens">The top-level image token ids, or null.</param>
    /// <param name="vision">The vision tower, written as <c>vision_config</c> (conditional generation only), or null.</param>
    public static string ToJson(Llama4TextConfig c, bool conditionalGeneration = true, ImageTokenIds? imageTokens = null, Llama4VisionConfig? vision = null)
    {
        if (vision is not null && !conditionalGeneration)
            throw new ArgumentException("a vision tower is written only in the Llama4ForConditionalGeneration shape", nameof(vision));
        var text = new JsonObject
        {
            ["model_type"] = "llama4_text",
            ["vocab_size"] = c.VocabSize,
            ["hidden_size"] = c.HiddenSize,
            ["intermediate_size"] = c.IntermediateSize,
            ["intermediate_size_mlp"] = c.IntermediateSizeMlp,
            ["num_hidden_layers"] = c.NumHiddenLayers,
            ["num_attention_heads"] = c.NumAttentionHeads,
            ["num_key_value_heads"] = c.NumKeyValueHeads,
            ["head_dim"] = c.HeadDim,
            ["num_local_experts"] = c.NumLocalExperts,
            ["num_experts_per_tok"] = c.NumExpertsPerToken,
            ["interleave_moe_layer_step"] = InterleaveStep(c),
            ["moe_layers"] = new JsonArray(Enumerable.Range(0, c.NumHiddenLayers).Where(c.IsMoeLayer).Select(i => (JsonNode)i).ToArray()),
            ["no_rope_layers"] = new JsonArray(c.RopeLayers.Select(r => (JsonNode)(r ? 1 : 0)).ToArray()),
            ["use_qk_norm"] = c.UseQkNorm,
            ["attention_chunk_size"] = c.AttentionChunkSize,
            ["attn_temperature_tuning"] = c.AttnTemperatureTuning,
            ["floor_scale"] = Num(c.FloorScale),
            ["attn_scale"] = Num(c.AttnScale),
            ["rope_theta"] = Num(c.RopeTheta),
            ["rope_scaling"] = c.RopeScaling is { } s
                ? new JsonObject
                {
                    ["rope_type"] = "llama3",
                    ["factor"] = Num(s.Factor),
                    ["low_freq_factor"] = Num(s.LowFreqFactor),
                    ["high_freq_factor"] = Num(s.HighFreqFactor),
                    ["original_max_position_embeddings"] = s.OriginalMaxPositionEmbeddings,
                }
                : null,
            ["rms_norm_eps"] = Num(c.RmsNormEps),
            ["hidden_act"] = "silu",
            ["attention_bias"] = false,
            ["max_position_embeddings"] = c.MaxPositionEmbeddings,
            ["bos_token_id"] = c.BosTokenId,
            ["eos_token_id"] = c.EosTokenIds.Count == 1 ? c.EosTokenIds[0] : new JsonArray(c.EosTokenIds.Select(e => (JsonNode)e).ToArray()),
            ["pad_token_id"] = c.PadTokenId,
            ["tie_word_embeddings"] = c.TieWordEmbeddings,
        };
        JsonObject root;
        if (conditionalGeneration)
        {
            root = new JsonObject
            {
                ["architectures"] = new JsonArray("Llama4ForConditionalGeneration"),
                ["model_type"] = "llama4",
            };
            if (imageTokens is { } img)
            {
                root["boi_token_index"] = img.ImageStart;
                root["eoi_token_index"] = img.ImageEnd;
                root["image_token_index"] = img.Patch;
            }
            root["tie_word_embeddings"] = c.TieWordEmbeddings;
            root["torch_dtype"] = "bfloat16";
            root["text_config"] = text;
            if (vision is { } v) root["vision_config"] = VisionJson(v);
        }
        else
        {
            root = new JsonObject { ["architectures"] = new JsonArray("Llama4ForCausalLM") };
            foreach (var (k, v) in text) root[k] = v?.DeepClone();
            root["torch_dtype"] = "bfloat16";
        }
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>A <c>vision_config</c> as transformers writes one (every field explicit).</summary>
    private static JsonObject VisionJson(Llama4VisionConfig v) => new()
    {
        ["model_type"] = "llama4_vision_model",
        ["hidden_size"] = v.HiddenSize,
        ["num_hidden_layers"] = v.NumHiddenLayers,
        ["num_attention_heads"] = v.NumAttentionHeads,
        ["intermediate_size"] = v.IntermediateSize,
        ["image_size"] = v.ImageSize,
        ["patch_size"] = v.PatchSize,
        ["num_channels"] = v.NumChannels,
        ["pixel_shuffle_ratio"] = Num(v.PixelShuffleRatio),
        ["projector_input_dim"] = v.ProjectorInputDim,
        ["projector_output_dim"] = v.ProjectorOutputDim,
        ["vision_output_dim"] = v.VisionOutputDim,
        ["rope_theta"] = Num(v.RopeTheta),
        ["norm_eps"] = Num(v.NormEps),
        ["hidden_act"] = "gelu",
        ["multi_modal_projector_bias"] = v.MultiModalProjectorBias,
        ["vision_feature_layer"] = -1,
        ["vision_feature_select_strategy"] = "default",
        ["projector_dropout"] = 0.0,
        ["attention_dropout"] = 0.0,
        ["initializer_range"] = 0.02,
    };

    private static int InterleaveStep(Llama4TextConfig c)
    {
        // The smallest step that reproduces the MoE layer set, or 0 when it is irregular
        // (moe_layers is written explicitly either way).
        for (int step = 1; step <= c.NumHiddenLayers; step++)
        {
            bool ok = true;
            for (int i = 0; i < c.NumHiddenLayers && ok; i++)
                ok = c.IsMoeLayer(i) == ((i + 1) % step == 0);
            if (ok) return step;
        }
        return 0;
    }

    // Doubles are written so that integral values keep a decimal point, as Python's json does.
    private static JsonNode Num(double v) =>
        JsonNode.Parse(v == Math.Floor(v) && Math.Abs(v) < 1e15
            ? v.ToString("0.0", CultureInfo.InvariantCulture)
            : v.ToString("R", CultureInfo.InvariantCulture))!;
}

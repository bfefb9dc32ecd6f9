using System.Text.Json;
using System.Text.Json.Nodes;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>
/// Writes a complete text checkpoint for a (tiny) config with deterministic random weights (spec §6): every text
/// tensor of spec §3.1 with its exact name and shape, in either name layout, fused or per-expert (optionally FP8)
/// experts, unsharded or sharded. Statistics: Linear weights N(0, 1/fan_in), embeddings N(0, 1), RMSNorm weights
/// 1 + 0.1·N(0, 1) (so a missing weight multiply shows), router std 1/√D; fused expert tensors hold exactly the
/// numbers of their per-expert Linear equivalents. The draw order is fixed, so the numbers do not depend on the
/// options. With <see cref="TinyCheckpointOptions.Vision"/>, the vision tower too (spec §5.3), from a stream of its own.
/// </summary>
public static class TinyCheckpointWriter
{
    public static void Write(string directory, Llama4TextConfig config, TinyCheckpointOptions options,
        ImageTokenIds? imageTokens = null, IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        config.Validate();
        CheckOptions(options, imageTokens);
        Directory.CreateDirectory(directory);

        var writer = new SafetensorsWriter();
        var rng = new GaussianRandom(options.Seed);
        long d = config.HiddenSize, f = config.IntermediateSize, fm = config.IntermediateSizeMlp;
        long q = (long)config.NumAttentionHeads * config.HeadDim, kv = (long)config.NumKeyValueHeads * config.HeadDim;
        int moeLayers = config.MoeLayers.Count(m => m);
        double totalSteps = 3 + config.NumHiddenLayers + moeLayers * (double)config.NumLocalExperts, step = 0;
        void Tick() => progress?.Report(Math.Min(0.99, ++step / totalSteps));

        string Name(string logical) => CheckpointNames.ToOnDisk(logical, options.Layout);
        void Plain(string logical, long[] shape, float[] values) => writer.AddSingles(Name(logical), options.DType, shape, values);
        float[] Linear(long outFeatures, long inFeatures) => rng.Normal(outFeatures * inFeatures, 0, 1 / Math.Sqrt(inFeatures));
        float[] Norm() => rng.Normal(d, 1, 0.1);

        Plain(CheckpointNames.EmbedTokens, [config.VocabSize, d], rng.Normal(config.VocabSize * d, 0, 1));
        Tick();
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            string L(string suffix) => CheckpointNames.Layer(i, suffix);
            Plain(L("input_layernorm.weight"), [d], Norm());
            Plain(L("self_attn.q_proj.weight"), [q, d], Linear(q, d));
            Plain(L("self_attn.k_proj.weight"), [kv, d], Linear(kv, d));
            Plain(L("self_attn.v_proj.weight"), [kv, d], Linear(kv, d));
            Plain(L("self_attn.o_proj.weight"), [d, q], Linear(d, q));
            Plain(L("post_attention_layernorm.weight"), [d], Norm());
            if (config.IsMoeLayer(i))
            {
                long e = config.NumLocalExperts;
                Plain(L("feed_forward.router.weight"), [e, d], Linear(e, d));
                float[]? gateUp = options.Experts == ExpertStorage.Fused ? new float[e * d * 2 * f] : null;
                float[]? down = options.Experts == ExpertStorage.Fused ? new float[e * f * d] : null;
                for (int x = 0; x < e; x++)
                {
                    // Drawn in nn.Linear orientation: gate, up [F, D], down [D, F].
                    float[] g = Linear(f, d), u = Linear(f, d), dn = Linear(d, f);
                    if (gateUp is not null && down is not null)
                    {
                        Fuse(x, d, f, g, u, dn, gateUp, down);
                    }
                    else
                    {
                        PerExpert(writer, options, Name(CheckpointNames.ExpertWeight(i, x, "gate_proj")), [f, d], g);
                        PerExpert(writer, options, Name(CheckpointNames.ExpertWeight(i, x, "up_proj")), [f, d], u);
                        PerExpert(writer, options, Name(CheckpointNames.ExpertWeight(i, x, "down_proj")), [d, f], dn);
                    }
                    Tick();
                }
                if (gateUp is not null && down is not null)
                {
                    Plain(CheckpointNames.FusedGateUp(i), [e, d, 2 * f], gateUp);
                    Plain(CheckpointNames.FusedDown(i), [e, f, d], down);
                }
                Plain(L("feed_forward.shared_expert.gate_proj.weight"), [f, d], Linear(f, d));
                Plain(L("feed_forward.shared_expert.up_proj.weight"), [f, d], Linear(f, d));
                Plain(L("feed_forward.shared_expert.down_proj.weight"), [d, f], Linear(d, f));
            }
            else
            {
                Plain(L("feed_forward.gate_proj.weight"), [fm, d], Linear(fm, d));
                Plain(L("feed_forward.up_proj.weight"), [fm, d], Linear(fm, d));
                Plain(L("feed_forward.down_proj.weight"), [d, fm], Linear(d, fm));
            }
            Tick();
        }
        Plain(CheckpointNames.FinalNorm, [d], Norm());
        if (!config.TieWordEmbeddings)
            Plain(CheckpointNames.LmHead, [config.VocabSize, d], Linear(config.VocabSize, d));
        Tick();
        if (options.Vision is { } vision) WriteVision(writer, options, vision, d);

        Save(directory, writer, config, options, imageTokens);
        progress?.Report(1.0);
    }

    /// <summary>
    /// The vision tower's tensors (spec §5.3) from a random stream of their own: Linear weights N(0, 1/fan_in), Linear biases
    /// and LayerNorm biases 0.1·N(0, 1), LayerNorm weights 1 + 0.1·N(0, 1), class and positional embeddings N(0, 1/H).
    /// </summary>
    private static void WriteVision(SafetensorsWriter writer, TinyCheckpointOptions options, Llama4VisionConfig v, long textHidden)
    {
        var rng = new GaussianRandom(unchecked(options.Seed * 7919 + 104729));
        string root = options.VisionNamesUnderModel ? "model." : "";
        string vm = root + "vision_model.";
        long h = v.HiddenSize, f = v.IntermediateSize;
        void Add(string name, long[] shape, float[] values) => writer.AddSingles(name, options.DType, shape, values);
        void Linear(string name, long outFeatures, long inFeatures, bool bias)
        {
            Add(name + ".weight", [outFeatures, inFeatures], rng.Normal(outFeatures * inFeatures, 0, 1 / Math.Sqrt(inFeatures)));
            if (bias) Add(name + ".bias", [outFeatures], rng.Normal(outFeatures, 0, 0.1));
        }

        void LayerNorm(string name)
        {
            Add(name + ".weight", [h], rng.Normal(h, 1, 0.1));
            Add(name + ".bias", [h], rng.Normal(h, 0, 0.1));
        }

        Linear(vm + "patch_embedding.linear", h, v.PatchValues, bias: false);
        Add(vm + "class_embedding", [h], rng.Normal(h, 0, 1 / Math.Sqrt(h)));
        Add(vm + "positional_embedding_vlm", [v.PatchesPerTile + 1, h], rng.Normal((v.PatchesPerTile + 1) * h, 0, 1 / Math.Sqrt(h)));
        LayerNorm(vm + "layernorm_pre");
        LayerNorm(vm + "layernorm_post");
        for (int j = 0; j < v.NumHiddenLayers; j++)
        {
            string p = $"{vm}model.layers.{j}.";
            foreach (string proj in new[] { "q_proj", "k_proj", "v_proj", "o_proj" }) Linear(p + "self_attn." + proj, h, h, bias: true);
            Linear(p + "mlp.fc1", f, h, bias: true);
            Linear(p + "mlp.fc2", h, f, bias: true);
            LayerNorm(p + "input_layernorm");
            LayerNorm(p + "post_attention_layernorm");
        }

        Linear(vm + "vision_adapter.mlp.fc1", v.ProjectorInputDim, v.ShuffledWidth, bias: false);
        Linear(vm + "vision_adapter.mlp.fc2", v.ProjectorOutputDim, v.ProjectorInputDim, bias: false);
        Linear(root + "multi_modal_projector.linear_1", textHidden, v.VisionOutputDim, v.MultiModalProjectorBias);
    }

    /// <summary>config.json and the tensors, as one file or as shards plus their index.</summary>
    private static void Save(string directory, SafetensorsWriter writer, Llama4TextConfig config, TinyCheckpointOptions options, ImageTokenIds? imageTokens)
    {
        File.WriteAllText(Path.Combine(directory, "config.json"), ConfigJson(config, options, imageTokens));
        if (options.Shards == 1)
            writer.Write(Path.Combine(directory, SafetensorsWriter.SingleFileName));
        else
            writer.WriteSharded(directory, options.Shards);
    }

    private static void CheckOptions(TinyCheckpointOptions options, ImageTokenIds? imageTokens)
    {
        if (options.Vision is not null && imageTokens is null)
            throw new ArgumentException("a vision tower needs the image token ids (image_token_index is the <|patch|> id its features fill)", nameof(imageTokens));
        if (options.DType is not (SafetensorsDType.BF16 or SafetensorsDType.F16 or SafetensorsDType.F32))
            throw new ArgumentException($"DType {options.DType} is not supported; use BF16, F16 or F32", nameof(options));
        if (options.Experts == ExpertStorage.PerExpertFp8 && options.Fp8ScaleDType is not (SafetensorsDType.BF16 or SafetensorsDType.F32))
            throw new ArgumentException($"Fp8ScaleDType {options.Fp8ScaleDType} is not supported; use BF16 or F32", nameof(options));
        if (options.Shards < 1) throw new ArgumentOutOfRangeException(nameof(options), options.Shards, "Shards must be at least 1");
        if (options.Vision is not null && options.Layout != CheckpointNameLayout.ConditionalGeneration)
            throw new ArgumentException("a vision tower is written only in the conditional-generation layout (Llama4ForCausalLM checkpoints are text-only)", nameof(options));
        options.Vision?.Validate("TinyCheckpointOptions.Vision");
    }

    /// <summary>
    /// Stores expert x's Linear-orientation weights (gate, up [F, D], down [D, F]) in the fused layout:
    /// gate_up[x] is [D, 2F] = [gateᵀ | upᵀ]; down[x] is [F, D] = downᵀ.
    /// </summary>
    private static void Fuse(long x, long d, long f, float[] g, float[] u, float[] dn, float[] gateUp, float[] down)
    {
        long gu0 = x * d * 2 * f, dn0 = x * f * d;
        for (long r = 0; r < f; r++)
        {
            for (long c = 0; c < d; c++)
            {
                gateUp[gu0 + c * 2 * f + r] = g[r * d + c];
                gateUp[gu0 + c * 2 * f + f + r] = u[r * d + c];
                down[dn0 + r * d + c] = dn[c * f + r];
            }
        }
    }

    /// <summary>
    /// Per-row FP8 quantisation as llm-compressor's "channel" strategy: scale[o] = max|W[o, :]| / 448 (stored in the
    /// scale dtype first, so that dequantising with the stored scale is what was quantised), W_fp8 = E4M3(W / scale).
    /// </summary>
    private static void PerExpert(SafetensorsWriter writer, TinyCheckpointOptions options, string name, long[] shape, float[] values)
    {
        if (options.Experts != ExpertStorage.PerExpertFp8)
        {
            writer.AddSingles(name, options.DType, shape, values);
            return;
        }
        long rows = shape[0], cols = shape[1];
        var scales = new float[rows];
        var scaled = new float[values.Length];
        for (long r = 0; r < rows; r++)
        {
            float amax = 0;
            for (long c = 0; c < cols; c++) amax = MathF.Max(amax, MathF.Abs(values[r * cols + c]));
            float s = amax > 0 ? amax / FloatFormats.E4M3Max : 1f;
            if (options.Fp8ScaleDType == SafetensorsDType.BF16) s = FloatFormats.BFloat16ToSingle(FloatFormats.SingleToBFloat16(s));
            scales[r] = s;
            for (long c = 0; c < cols; c++) scaled[r * cols + c] = values[r * cols + c] / s;
        }
        writer.AddSingles(name, SafetensorsDType.F8_E4M3, shape, scaled);
        writer.AddSingles(CheckpointNames.ScaleOf(name), options.Fp8ScaleDType, options.Fp8ScaleAsColumn ? [rows, 1] : [rows], scales);
    }

    private static string ConfigJson(Llama4TextConfig config, TinyCheckpointOptions options, ImageTokenIds? imageTokens)
    {
        var root = JsonNode.Parse(Llama4ConfigWriter.ToJson(config, options.Layout == CheckpointNameLayout.ConditionalGeneration, imageTokens, options.Vision))!.AsObject();
        root["torch_dtype"] = options.DType switch
        {
            SafetensorsDType.F32 => "float32",
            SafetensorsDType.F16 => "float16",
            _ => "bfloat16",
        };
        if (options.Experts == ExpertStorage.PerExpertFp8)
            root["quantization_config"] = QuantizationConfig(config, options.Layout);
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>
    /// The compressed-tensors block spec §3.2 expects for FP8 Maverick: FP8 weights with one scale per output channel,
    /// FP8 activations quantised dynamically per token, every Linear except the routed experts ignored (kept BF16).
    /// </summary>
    private static JsonObject QuantizationConfig(Llama4TextConfig config, CheckpointNameLayout layout)
    {
        var ignore = new JsonArray();
        void Ignore(string logicalModule) => ignore.Add(CheckpointNames.ToOnDisk(logicalModule, layout));
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            foreach (string p in new[] { "q_proj", "k_proj", "v_proj", "o_proj" }) Ignore($"model.layers.{i}.self_attn.{p}");
            if (config.IsMoeLayer(i))
            {
                Ignore($"model.layers.{i}.feed_forward.router");
                foreach (string p in new[] { "gate_proj", "up_proj", "down_proj" }) Ignore($"model.layers.{i}.feed_forward.shared_expert.{p}");
            }
            else
            {
                foreach (string p in new[] { "gate_proj", "up_proj", "down_proj" }) Ignore($"model.layers.{i}.feed_forward.{p}");
            }
        }
        Ignore("lm_head");
        return new JsonObject
        {
            ["quant_method"] = "compressed-tensors",
            ["format"] = "float-quantized",
            ["quantization_status"] = "compressed",
            ["config_groups"] = new JsonObject
            {
                ["group_0"] = new JsonObject
                {
                    ["targets"] = new JsonArray("Linear"),
                    ["weights"] = new JsonObject
                    {
                        ["num_bits"] = 8, ["type"] = "float", ["strategy"] = "channel", ["symmetric"] = true, ["dynamic"] = false,
                    },
                    ["input_activations"] = new JsonObject
                    {
                        ["num_bits"] = 8, ["type"] = "float", ["strategy"] = "token", ["symmetric"] = true, ["dynamic"] = true,
                    },
                },
            },
            ["ignore"] = ignore,
            ["kv_cache_scheme"] = null,
        };
    }
}

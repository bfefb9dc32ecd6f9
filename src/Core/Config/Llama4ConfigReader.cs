using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama4Cluster.Core.Config;

/// <summary>
/// Reads a Hugging Face Llama 4 <c>config.json</c> in both shapes (spec §1.1):
/// <c>Llama4ForConditionalGeneration</c> with a <c>text_config</c> object, and flat
/// <c>Llama4ForCausalLM</c>. Applies the defaults of transformers' <c>Llama4TextConfig</c>.
/// </summary>
public static partial class Llama4ConfigReader
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        AllowTrailingCommas = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>Reads <c>config.json</c> from a checkpoint directory, or a config file path.</summary>
    public static Llama4TextConfig Load(string path, Action<string>? warn = null)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file))
            throw new FileNotFoundException($"{file}: no config.json (expected a Hugging Face checkpoint directory)", file);
        return Parse(File.ReadAllText(file), file, warn);
    }

    /// <summary>Parses config JSON; <paramref name="source"/> names the file in error messages.</summary>
    public static Llama4TextConfig Parse(string json, string source = "config.json", Action<string>? warn = null)
    {
        JsonNode? root;
        try
        {
            root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e);
        }
        if (root is not JsonObject obj)
            throw new InvalidDataException($"{source}: expected a JSON object at the top level");

        JsonObject text = obj["text_config"] as JsonObject ?? obj;
        Llama4TextConfigJson raw;
        try
        {
            raw = text.Deserialize<Llama4TextConfigJson>(JsonOptions)
                ?? throw new InvalidDataException($"{source}: empty text config");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: field '{e.Path?.TrimStart('$', '.')}' has the wrong type ({e.Message})", e);
        }
        // tie_word_embeddings may sit at the top level of a ConditionalGeneration file.
        if (text.TryGetPropertyValue("attention_chunk_size", out var chunkNode) && chunkNode is null)
            raw = raw with { AttentionChunkSizeIsNull = true };
        bool? topTie = obj != text && obj["tie_word_embeddings"] is JsonValue tv && tv.TryGetValue(out bool t) ? t : null;
        return Resolve(raw, source, warn, topTie);
    }

    /// <summary>Applies HF defaults and derivations to a raw text config.</summary>
    public static Llama4TextConfig Resolve(Llama4TextConfigJson raw, string source = "config.json", Action<string>? warn = null, bool? topLevelTie = null)
    {
        int layers = raw.NumHiddenLayers ?? 48;
        int heads = raw.NumAttentionHeads ?? 40;

        bool[] moe = MoeLayers(raw, layers, source);
        bool[] rope = RopeLayers(raw, layers, source);
        var (theta, scaling) = RopeFrequencies(raw, source);

        int? chunk = raw.AttentionChunkSizeIsNull ? null : raw.AttentionChunkSize ?? 8192;

        var config = new Llama4TextConfig
        {
            VocabSize = raw.VocabSize ?? 202048,
            HiddenSize = raw.HiddenSize ?? 5120,
            IntermediateSize = raw.IntermediateSize ?? 8192,
            IntermediateSizeMlp = raw.IntermediateSizeMlp ?? 16384,
            NumHiddenLayers = layers,
            NumAttentionHeads = heads,
            NumKeyValueHeads = raw.NumKeyValueHeads ?? heads,
            // transformers' Llama4TextConfig field default, not hidden_size / heads (spec §1.1).
            HeadDim = raw.HeadDim ?? 128,
            NumLocalExperts = raw.NumLocalExperts ?? 16,
            NumExpertsPerToken = raw.NumExpertsPerTok ?? 1,
            MoeLayers = moe,
            RopeLayers = rope,
            RopeTheta = theta,
            RopeScaling = scaling,
            AttentionChunkSize = chunk,
            AttnTemperatureTuning = Truthy(raw.AttnTemperatureTuning, defaultValue: true),
            FloorScale = raw.FloorScale ?? 8192,
            AttnScale = raw.AttnScale ?? 0.1,
            UseQkNorm = raw.UseQkNorm ?? true,
            RmsNormEps = raw.RmsNormEps ?? 1e-5,
            BosTokenId = OptionalInt(raw.BosTokenId, 1),
            EosTokenIds = IntList(raw.EosTokenId, source) ?? [2],
            PadTokenId = OptionalInt(raw.PadTokenId, null),
            MaxPositionEmbeddings = raw.MaxPositionEmbeddings ?? 4096 * 32,
            TieWordEmbeddings = raw.TieWordEmbeddings ?? topLevelTie ?? false,
        };
        if (raw.HiddenAct is { } act && act != "silu")
            throw new InvalidDataException($"{source}: hidden_act '{act}' is not supported; Llama 4 uses 'silu'");
        if (raw.AttentionBias == true)
            throw new InvalidDataException($"{source}: attention_bias true is not supported; Llama 4 has no attention biases");
        config.Validate(source);
        if (scaling is { Factor: 8.0, LowFreqFactor: 1.0, HighFreqFactor: 4.0 } && config.NumLocalExperts == 16 && config.HiddenSize == 5120)
        {
            warn?.Invoke($"{source}: rope_scaling 8/1/4 is the stale release-day Scout value; Meta and the Hub changed it to " +
                "factor 16, low 1, high 1 (llama-models 408c577). Using the file's values as written.");
        }
        return config;
    }

    /// <summary>Which layers are MoE: moe_layers when given, else every interleave_moe_layer_step-th layer.</summary>
    private static bool[] MoeLayers(Llama4TextConfigJson raw, int layers, string source)
    {
        int interleave = raw.InterleaveMoeLayerStep ?? 1;
        bool[] moe = new bool[layers];
        if (raw.MoeLayers is { } moeList)
        {
            foreach (int i in moeList)
            {
                if (i < 0 || i >= layers)
                    throw new InvalidDataException($"{source}: moe_layers names layer {i}, but num_hidden_layers is {layers}");
                moe[i] = true;
            }
        }
        else
        {
            for (int i = 0; i < layers; i++)
                moe[i] = interleave > 0 && (i + 1) % interleave == 0;
        }
        return moe;
    }

    /// <summary>Which layers use RoPE (and chunked attention), checked against layer_types when present.</summary>
    private static bool[] RopeLayers(Llama4TextConfigJson raw, int layers, string source)
    {
        // no_rope_layers: 1 = the layer USES RoPE (and chunked attention); 0 = NoPE (global).
        bool[] rope = new bool[layers];
        if (raw.NoRopeLayers is { Length: > 0 } noRope)
        {
            if (noRope.Length != layers)
                throw new InvalidDataException($"{source}: no_rope_layers has {noRope.Length} entries; it needs one per layer ({layers})");
            for (int i = 0; i < layers; i++)
            {
                if (noRope[i] is not (0 or 1))
                    throw new InvalidDataException($"{source}: no_rope_layers[{i}] is {noRope[i]}; allowed values are 1 (RoPE) and 0 (NoPE)");
                rope[i] = noRope[i] == 1;
            }
        }
        else
        {
            int interval = raw.NoRopeLayerInterval ?? 4;
            for (int i = 0; i < layers; i++)
                rope[i] = interval <= 0 || (i + 1) % interval != 0;
        }
        if (raw.LayerTypes is { Length: > 0 } types)
        {
            if (types.Length != layers)
                throw new InvalidDataException($"{source}: layer_types has {types.Length} entries for {layers} layers");
            for (int i = 0; i < layers; i++)
            {
                bool chunked = types[i] switch
                {
                    "chunked_attention" => true,
                    "full_attention" => false,
                    _ => throw new InvalidDataException($"{source}: layer_types[{i}] is '{types[i]}'; expected chunked_attention or full_attention"),
                };
                if (chunked != rope[i])
                    throw new InvalidDataException(
                        $"{source}: layer_types[{i}] is '{types[i]}' but no_rope_layers says layer {i} is {(rope[i] ? "a RoPE (chunked)" : "a NoPE (global)")} layer");
            }
        }
        return rope;
    }

    /// <summary>rope_theta and the llama3 frequency scaling, from rope_parameters, or else rope_scaling.</summary>
    private static (double Theta, RopeScaling? Scaling) RopeFrequencies(Llama4TextConfigJson raw, string source)
    {
        double theta = raw.RopeTheta ?? 500000.0;
        RopeScaling? scaling = null;
        JsonElement? ropeSpec = IsObject(raw.RopeParameters) ? raw.RopeParameters : IsObject(raw.RopeScaling) ? raw.RopeScaling : null;
        if (ropeSpec is { } rs)
        {
            if (rs.TryGetProperty("rope_theta", out var th) && th.ValueKind == JsonValueKind.Number) theta = th.GetDouble();
            string type = rs.TryGetProperty("rope_type", out var rt) ? rt.GetString() ?? "default"
                : rs.TryGetProperty("type", out var t2) ? t2.GetString() ?? "default" : "default";
            switch (type)
            {
                case "default":
                    break;
                case "llama3":
                    scaling = new RopeScaling(
                        Number(rs, "factor", source),
                        Number(rs, "low_freq_factor", source),
                        Number(rs, "high_freq_factor", source),
                        (int)Number(rs, "original_max_position_embeddings", source));
                    break;
                default:
                    throw new InvalidDataException($"{source}: rope_type '{type}' is not supported; Llama 4 uses 'llama3' or 'default'");
            }
        }
        return (theta, scaling);
    }

    private static bool IsObject(JsonElement? e) => e is { ValueKind: JsonValueKind.Object };

    private static double Number(JsonElement e, string name, string source) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number
            ? v.GetDouble()
            : throw new InvalidDataException($"{source}: rope scaling of type llama3 needs a numeric '{name}'");

    private static bool Truthy(JsonElement? e, bool defaultValue) => e switch
    {
        null => defaultValue,
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { ValueKind: JsonValueKind.Null } => false,
        { ValueKind: JsonValueKind.Number } n => n.GetDouble() != 0,
        _ => defaultValue,
    };

    private static int? OptionalInt(JsonElement? e, int? defaultValue) => e switch
    {
        null => defaultValue,
        { ValueKind: JsonValueKind.Number } n => n.GetInt32(),
        { ValueKind: JsonValueKind.Array } a when a.GetArrayLength() > 0 => a[0].GetInt32(),
        _ => null,
    };

    private static int[]? IntList(JsonElement? e, string source) => e switch
    {
        null => null,
        { ValueKind: JsonValueKind.Null } => [],
        { ValueKind: JsonValueKind.Number } n => [n.GetInt32()],
        { ValueKind: JsonValueKind.Array } a => a.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number
            ? x.GetInt32()
            : throw new InvalidDataException($"{source}: eos_token_id must be an int or a list of ints")).ToArray(),
        _ => throw new InvalidDataException($"{source}: eos_token_id must be an int or a list of ints"),
    };
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace Llama4Cluster.Core.Config;

/// <summary>
/// The vision side of a Hugging Face Llama 4 <c>config.json</c> (spec §1.1, §1.3): the <c>vision_config</c> object (absent in a
/// text-only checkpoint) with transformers' <c>Llama4VisionConfig</c> defaults for missing fields, and the image token ids
/// at the top level (<c>boi_token_index</c>, <c>eoi_token_index</c>, <c>image_token_index</c>).
/// </summary>
public static partial class Llama4ConfigReader
{
    /// <summary>The vision tower of the checkpoint directory (or config file) <paramref name="path"/>; null when its
    /// config.json has no <c>vision_config</c>. <see cref="InvalidDataException"/> naming the file and field otherwise.</summary>
    public static Llama4VisionConfig? LoadVision(string path)
    {
        string file = ConfigFile(path);
        return ParseVision(File.ReadAllText(file), file);
    }

    /// <summary>The image token ids of the checkpoint directory (or config file) <paramref name="path"/>; null when its
    /// config.json has no <c>image_token_index</c>.</summary>
    public static ImageTokenIds? LoadImageTokens(string path)
    {
        string file = ConfigFile(path);
        return ParseImageTokens(File.ReadAllText(file), file);
    }

    /// <summary>Parses the <c>vision_config</c> of config JSON; null when there is none.</summary>
    public static Llama4VisionConfig? ParseVision(string json, string source = "config.json")
    {
        var root = Root(json, source);
        if (root["vision_config"] is not { } node) return null;
        if (node is not JsonObject v) throw new InvalidDataException($"{source}: vision_config must be an object");
        var config = new Llama4VisionConfig
        {
            // transformers' Llama4VisionConfig defaults (its hidden_size 768, image_size 448 and vision_output_dim 7680 fail
            // the size ties of a real tower: a checkpoint always writes them).
            HiddenSize = Int(v, "hidden_size", 768, source),
            NumHiddenLayers = Int(v, "num_hidden_layers", 34, source),
            NumAttentionHeads = Int(v, "num_attention_heads", 16, source),
            IntermediateSize = Int(v, "intermediate_size", 5632, source),
            ImageSize = Int(v, "image_size", 448, source),
            PatchSize = Int(v, "patch_size", 14, source),
            NumChannels = Int(v, "num_channels", 3, source),
            PixelShuffleRatio = Double(v, "pixel_shuffle_ratio", 0.5, source),
            ProjectorInputDim = Int(v, "projector_input_dim", 4096, source),
            ProjectorOutputDim = Int(v, "projector_output_dim", 4096, source),
            VisionOutputDim = Int(v, "vision_output_dim", 7680, source),
            RopeTheta = Double(v, "rope_theta", 10000, source),
            NormEps = Double(v, "norm_eps", 1e-5, source),
            MultiModalProjectorBias = Bool(v, "multi_modal_projector_bias", false, source),
        };
        if (v["hidden_act"] is JsonValue act && act.TryGetValue(out string? name) && name != "gelu")
            throw new InvalidDataException($"{source}: vision_config.hidden_act '{name}' is not supported; the Llama 4 vision tower uses exact gelu");
        config.Validate(source);
        return config;
    }

    /// <summary>Parses the top-level image token ids of config JSON; null when <c>image_token_index</c> is absent. A missing
    /// start or end id falls back to the published ids (200080, 200081).</summary>
    public static ImageTokenIds? ParseImageTokens(string json, string source = "config.json")
    {
        var root = Root(json, source);
        if (root["image_token_index"] is null) return null;
        return new ImageTokenIds(Int(root, "boi_token_index", 200080, source), Int(root, "eoi_token_index", 200081, source),
            Int(root, "image_token_index", 200092, source));
    }

    private static string ConfigFile(string path)
    {
        string file = Directory.Exists(path) ? Path.Combine(path, "config.json") : path;
        if (!File.Exists(file))
            throw new FileNotFoundException($"{file}: no config.json (expected a Hugging Face checkpoint directory)", file);
        return file;
    }

    private static JsonObject Root(string json, string source)
    {
        try
        {
            return JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip })
                as JsonObject ?? throw new InvalidDataException($"{source}: expected a JSON object at the top level");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON ({e.Message})", e);
        }
    }

    private static int Int(JsonObject o, string name, int fallback, string source)
    {
        if (o[name] is not { } node) return fallback;
        if (node is JsonValue value && value.TryGetValue(out int i)) return i;
        if (node is JsonValue d && d.TryGetValue(out double x) && x == Math.Floor(x) && Math.Abs(x) <= int.MaxValue) return (int)x;
        throw new InvalidDataException($"{source}: field '{name}' must be an integer; got {node.ToJsonString()}");
    }

    private static double Double(JsonObject o, string name, double fallback, string source)
    {
        if (o[name] is not { } node) return fallback;
        if (node is JsonValue value && value.TryGetValue(out double x)) return x;
        throw new InvalidDataException($"{source}: field '{name}' must be a number; got {node.ToJsonString()}");
    }

    private static bool Bool(JsonObject o, string name, bool fallback, string source)
    {
        if (o[name] is not { } node) return fallback;
        if (node is JsonValue value && value.TryGetValue(out bool b)) return b;
        throw new InvalidDataException($"{source}: field '{name}' must be true or false; got {node.ToJsonString()}");
    }
}

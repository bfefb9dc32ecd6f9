using System.Text.Json;
using System.Text.Json.Nodes;
using Llama4Cluster.Kernels.Checkpoints;
using TorchSharp;

namespace Llama4Cluster.Kernels.Runtime;

/// <summary>
/// The compute dtype setting (<c>--dtype</c>): <c>float32</c> (exact; the reference for every exactness test),
/// <c>bfloat16</c> (fast), or <c>auto</c> (as vLLM: the checkpoint's own dtype, see <see cref="ForCheckpoint"/>). The
/// canonical spellings are these three; <c>fp32</c>/<c>f32</c> and <c>bf16</c> are accepted everywhere as well.
/// </summary>
public static class ComputeDType
{
    public const string Auto = "auto";

    /// <summary>The documented choices, for usage texts and messages.</summary>
    public const string Choices = "auto|float32|bfloat16";

    /// <summary>A <c>--dtype</c> value: the dtype it names, or null for <c>auto</c>; throws <see cref="ArgumentException"/> for
    /// anything else.</summary>
    public static torch.ScalarType? ParseSetting(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.Trim().ToLowerInvariant() switch
        {
            "float32" or "fp32" or "f32" or "float" => torch.ScalarType.Float32,
            "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
            Auto => null,
            _ => throw new ArgumentException($"dtype '{name}': expected {Choices} (fp32 and bf16 are accepted too)"),
        };
    }

    /// <summary>An explicit dtype (<c>float32</c> or <c>bfloat16</c>); <c>auto</c> needs the checkpoint: use <see cref="Resolve"/>.</summary>
    public static torch.ScalarType Parse(string name) =>
        ParseSetting(name) ?? throw new ArgumentException("dtype 'auto' follows the checkpoint: resolve it with the model directory");

    /// <summary>The compute dtype a <c>--dtype</c> value means for the checkpoint in <paramref name="modelDirectory"/>.</summary>
    public static torch.ScalarType Resolve(string name, string modelDirectory) => ParseSetting(name) ?? ForCheckpoint(modelDirectory);

    /// <summary>Canonical name of a <c>--dtype</c> value (<c>auto</c>, <c>float32</c> or <c>bfloat16</c>); throws for unknown ones.</summary>
    public static string Canonical(string name) => ParseSetting(name) is { } t ? Name(t) : Auto;

    /// <summary>
    /// What <c>auto</c> computes in for a checkpoint, as vLLM's <c>--dtype auto</c>: an FP8 checkpoint (a
    /// <c>quantization_config</c>) in bfloat16; otherwise <c>config.json</c>'s <c>torch_dtype</c> (or <c>dtype</c>; the
    /// text config's first): <c>float32</c> in float32, <c>bfloat16</c> and <c>float16</c> in bfloat16 (there is no float16
    /// compute: bfloat16 has its width and a wider range). When the config names none, the weights decide: float32 when most
    /// of their bytes are F32/F64, bfloat16 otherwise.
    /// </summary>
    public static torch.ScalarType ForCheckpoint(string modelDirectory)
    {
        ArgumentNullException.ThrowIfNull(modelDirectory);
        string configPath = Path.Combine(modelDirectory, "config.json");
        JsonObject? root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(configPath), documentOptions: new JsonDocumentOptions
            {
                AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip,
            }) as JsonObject;
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{configPath}: not valid JSON ({e.Message})", e);
        }

        var text = root?["text_config"] as JsonObject;
        if (root?["quantization_config"] is JsonObject || text?["quantization_config"] is JsonObject) return torch.ScalarType.BFloat16;
        string? named = Named(text) ?? Named(root);
        return named switch
        {
            "float32" or "float" or "fp32" => torch.ScalarType.Float32,
            "bfloat16" or "float16" or "half" or "bf16" or "fp16" => torch.ScalarType.BFloat16,
            _ => FromWeights(modelDirectory),
        };
    }

    public static string Name(torch.ScalarType t) => t switch
    {
        torch.ScalarType.Float32 => "float32",
        torch.ScalarType.BFloat16 => "bfloat16",
        _ => t.ToString(),
    };

    private static string? Named(JsonObject? config)
    {
        if (config is null) return null;
        foreach (string key in (ReadOnlySpan<string>)["torch_dtype", "dtype"])
        {
            if (config[key] is JsonValue v && v.TryGetValue(out string? s) && !string.IsNullOrWhiteSpace(s))
                return s.Trim().ToLowerInvariant().Replace("torch.", "", StringComparison.Ordinal);
        }

        return null;
    }

    /// <summary>float32 when most bytes of the floating-point weights are F32/F64; bfloat16 otherwise.</summary>
    private static torch.ScalarType FromWeights(string modelDirectory)
    {
        using var reader = CheckpointReader.Open(modelDirectory);
        long wide = 0, narrow = 0;
        foreach (var file in reader.Files)
        {
            foreach (var t in file.Tensors.Values)
            {
                if (t.DType is SafetensorsDType.F32 or SafetensorsDType.F64) wide += t.ByteLength;
                else if (t.DType is SafetensorsDType.BF16 or SafetensorsDType.F16 or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2) narrow += t.ByteLength;
            }
        }

        return wide > narrow ? torch.ScalarType.Float32 : torch.ScalarType.BFloat16;
    }
}

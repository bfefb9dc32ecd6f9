using TorchSharp;

namespace Llama4Cluster.Kernels.Runtime;

/// <summary>Parses the compute dtype setting: <c>float32</c> (exactness tests) or <c>bfloat16</c>.</summary>
public static class ComputeDType
{
    public static torch.ScalarType Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" or "float" => torch.ScalarType.Float32,
        "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
        _ => throw new ArgumentException($"dtype '{name}': expected float32 or bfloat16"),
    };

    public static string Name(torch.ScalarType t) => t switch
    {
        torch.ScalarType.Float32 => "float32",
        torch.ScalarType.BFloat16 => "bfloat16",
        _ => t.ToString(),
    };
}

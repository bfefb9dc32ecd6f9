namespace Llama4Cluster.Contracts.Tensors;

/// <summary>Sizes and names of <see cref="WireDType"/> values.</summary>
public static class WireDTypes
{
    public static int ElementSize(WireDType dtype) => dtype switch
    {
        WireDType.Float32 or WireDType.Int32 => 4,
        WireDType.BFloat16 or WireDType.Float16 => 2,
        WireDType.Int64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unknown wire dtype"),
    };

    public static bool IsDefined(WireDType dtype) => dtype is >= WireDType.Float32 and <= WireDType.Int32;

    /// <summary>Parses the wire dtype setting: <c>bf16</c>/<c>bfloat16</c> (default) or <c>fp32</c>/<c>float32</c>.</summary>
    public static WireDType Parse(string name) => name.Trim().ToLowerInvariant() switch
    {
        "float32" or "fp32" or "f32" or "float" => WireDType.Float32,
        "bfloat16" or "bf16" => WireDType.BFloat16,
        "float16" or "fp16" or "f16" or "half" => WireDType.Float16,
        _ => throw new ArgumentException($"wire dtype '{name}': expected bfloat16 or float32 (exactness); bf16 and fp32 are accepted too"),
    };
}

using TorchSharp;

namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>Sizes, names and torch equivalents of <see cref="SafetensorsDType"/>.</summary>
public static class SafetensorsDTypes
{
    /// <summary>Bytes per element.</summary>
    public static int ElementSize(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL or SafetensorsDType.U8 or SafetensorsDType.I8
            or SafetensorsDType.F8_E4M3 or SafetensorsDType.F8_E5M2 => 1,
        SafetensorsDType.I16 or SafetensorsDType.F16 or SafetensorsDType.BF16 => 2,
        SafetensorsDType.I32 or SafetensorsDType.F32 => 4,
        SafetensorsDType.I64 or SafetensorsDType.F64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, null),
    };

    /// <summary>Parses a header dtype string (case-sensitive, as the format specifies).</summary>
    public static bool TryParse(string? text, out SafetensorsDType dtype)
    {
        dtype = default;
        if (text is null) return false;
        foreach (var d in Enum.GetValues<SafetensorsDType>())
        {
            if (string.Equals(d.ToString(), text, StringComparison.Ordinal))
            {
                dtype = d;
                return true;
            }
        }
        return false;
    }

    /// <summary>True for the float types a BF16/F16/F32 weight may be stored in (loaded without a scale).</summary>
    public static bool IsPlainFloat(SafetensorsDType dtype) =>
        dtype is SafetensorsDType.BF16 or SafetensorsDType.F16 or SafetensorsDType.F32 or SafetensorsDType.F64;

    /// <summary>The torch dtype with the same bytes, for the types torch can hold directly; null for FP8 (TorchSharp has no FP8 type).</summary>
    public static torch.ScalarType? ToTorch(SafetensorsDType dtype) => dtype switch
    {
        SafetensorsDType.BOOL => torch.ScalarType.Bool,
        SafetensorsDType.U8 => torch.ScalarType.Byte,
        SafetensorsDType.I8 => torch.ScalarType.Int8,
        SafetensorsDType.I16 => torch.ScalarType.Int16,
        SafetensorsDType.I32 => torch.ScalarType.Int32,
        SafetensorsDType.I64 => torch.ScalarType.Int64,
        SafetensorsDType.F16 => torch.ScalarType.Float16,
        SafetensorsDType.BF16 => torch.ScalarType.BFloat16,
        SafetensorsDType.F32 => torch.ScalarType.Float32,
        SafetensorsDType.F64 => torch.ScalarType.Float64,
        _ => null,
    };

    public static long ElementCount(IReadOnlyList<long> shape)
    {
        long n = 1;
        foreach (long d in shape) n = checked(n * d);
        return n;
    }

    public static string FormatShape(IReadOnlyList<long> shape) => "[" + string.Join(", ", shape) + "]";
}

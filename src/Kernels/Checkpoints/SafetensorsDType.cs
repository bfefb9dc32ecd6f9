namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>Element types of the safetensors format, spelled as in the file header.</summary>
public enum SafetensorsDType
{
    BOOL,
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
    F32,
    F64,
    /// <summary>FP8 E4M3 "fn" variant: bias 7, no infinities, 0x7F/0xFF are NaN, max 448.</summary>
    F8_E4M3,
    /// <summary>FP8 E5M2: the top byte of an IEEE half.</summary>
    F8_E5M2,
}

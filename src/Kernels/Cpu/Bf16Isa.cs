namespace Llama4Cluster.Kernels.Cpu;

/// <summary>The instruction set a CPU kernel uses; tests force the fallbacks.</summary>
internal enum Bf16Isa
{
    /// <summary>Plain C#, any CPU.</summary>
    Scalar = 0,

    /// <summary>AVX2 + FMA, 8 fp32 lanes.</summary>
    Avx2 = 1,

    /// <summary>AVX-512F, 16 fp32 lanes.</summary>
    Avx512 = 2,
}

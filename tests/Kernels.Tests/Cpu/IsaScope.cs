using System.Runtime.Intrinsics.X86;
using Llama4Cluster.Kernels.Cpu;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>Forces <see cref="Bf16MatMul"/> onto one instruction set for the scope's lifetime.
/// Tests that use it run in <see cref="CpuKernelCollection"/>, never in parallel.</summary>
internal sealed class IsaScope : IDisposable
{
    private readonly Bf16Isa? _previous;

    public IsaScope(Bf16Isa isa)
    {
        _previous = Bf16MatMul.ForcedIsa;
        Bf16MatMul.ForcedIsa = isa;
    }

    /// <summary>The instruction sets this machine can run.</summary>
    public static IReadOnlyList<Bf16Isa> Available { get; } = BuildAvailable();

    public void Dispose() => Bf16MatMul.ForcedIsa = _previous;

    private static List<Bf16Isa> BuildAvailable()
    {
        var list = new List<Bf16Isa> { Bf16Isa.Scalar };
        if (Avx2.IsSupported && Fma.IsSupported)
        {
            list.Add(Bf16Isa.Avx2);
        }

        if (Avx512F.IsSupported)
        {
            list.Add(Bf16Isa.Avx512);
        }

        return list;
    }
}

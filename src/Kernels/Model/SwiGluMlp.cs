using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// <c>MLP(x) = (SiLU(x·Wgᵀ) ⊙ (x·Wuᵀ)) · Wdᵀ</c> (spec §2.5): the dense layers' MLP and the MoE
/// shared expert. Gate and up are fused into one <c>[2F, D]</c> weight so one GEMM reads both.
/// </summary>
public sealed class SwiGluMlp : IDisposable
{
    private readonly Tensor _gateUp; // [2F, D]
    private readonly Tensor _down;   // [D, F]
    private readonly int _intermediate;
    private readonly KernelPolicy _kernels;

    /// <param name="kernels">Null: decided from how <paramref name="gateUp"/> is held (<see cref="KernelPolicy.For(Tensor)"/>).</param>
    public SwiGluMlp(Tensor gateUp, Tensor down, KernelPolicy? kernels = null)
    {
        _gateUp = gateUp;
        _down = down;
        _intermediate = (int)down.shape[1];
        _kernels = kernels ?? KernelPolicy.For(gateUp);
    }

    /// <summary><c>[2F, D]</c>: gate rows, then up rows.</summary>
    internal Tensor GateUp => _gateUp;

    /// <summary><c>[D, F]</c>.</summary>
    internal Tensor Down => _down;

    /// <summary>Bytes of weights held.</summary>
    public long WeightBytes => (_gateUp.NumberOfElements + _down.NumberOfElements) * _gateUp.ElementSize;

    public Tensor Forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var gu = _kernels.Linear(x, _gateUp);
        var h = nn.functional.silu(gu.narrow(-1, 0, _intermediate)).mul_(gu.narrow(-1, _intermediate, _intermediate));
        return _kernels.Linear(h, _down).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _gateUp.Dispose();
        _down.Dispose();
    }
}

using Llama4Cluster.Kernels.Cpu;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// The weights of a set of routed experts of one layer and the grouped SwiGLU over rows already
/// grouped by expert: <c>Expert_e(z) = (SiLU(z·G_e) ⊙ (z·U_e)) · Dn_e</c>. Weights are held in
/// nn.Linear orientation (<c>GateUp [n, 2F, D]</c>, <c>Down [n, D, F]</c>), the layout both the
/// GEMM (prefill) and the weight-streaming GEMV (decode) read best. Owns its tensors.
/// </summary>
public sealed class GroupedExperts : IDisposable
{
    private readonly Tensor _gateUp;
    private readonly Tensor _down;
    private readonly Dictionary<int, int> _localIndex;

    private readonly KernelPolicy _kernels;

    /// <param name="kernels">Null: decided from how <paramref name="gateUp"/> and <paramref name="down"/> are held.</param>
    public GroupedExperts(IReadOnlyList<int> expertIds, Tensor gateUp, Tensor down, KernelPolicy? kernels = null)
    {
        if (gateUp.shape[0] != expertIds.Count || down.shape[0] != expertIds.Count)
            throw new ArgumentException($"expert weights hold {gateUp.shape[0]}/{down.shape[0]} experts for {expertIds.Count} ids");
        ExpertIds = expertIds.ToArray();
        _gateUp = gateUp;
        _down = down;
        _localIndex = ExpertIds.Select((e, i) => (e, i)).ToDictionary(p => p.e, p => p.i);
        Intermediate = (int)down.shape[2];
        _kernels = kernels ?? (KernelPolicy.For(down).StreamsBf16 ? KernelPolicy.For(gateUp) : KernelPolicy.For(down));
    }

    public IReadOnlyList<int> ExpertIds { get; }

    public int Intermediate { get; }

    public bool Holds(int expert) => _localIndex.ContainsKey(expert);

    /// <summary>Bytes of expert weights held.</summary>
    public long WeightBytes => (_gateUp.NumberOfElements + _down.NumberOfElements) * _gateUp.ElementSize;

    /// <summary>
    /// Runs each expert on its rows. <paramref name="inputs"/> <c>[P, D]</c> grouped as
    /// (<paramref name="experts"/>, <paramref name="counts"/>) say; returns <c>[P, D]</c> in the same row
    /// order. Synchronous: call it off any latency-sensitive scheduler.
    /// </summary>
    public Tensor Compute(Tensor inputs, IReadOnlyList<int> experts, IReadOnlyList<int> counts)
    {
        if (_kernels.StreamsExperts(inputs.shape[0]))
            return ComputeStreaming(inputs, experts, counts);
        using var scope = NewDisposeScope();
        var output = torch.empty_like(inputs);
        long row = 0;
        for (int g = 0; g < experts.Count; g++)
        {
            int n = counts[g];
            if (n == 0) continue;
            int local = LocalIndex(experts[g]);
            using var inner = NewDisposeScope();
            var z = inputs.narrow(0, row, n);
            var gu = nn.functional.linear(z, _gateUp[local]);
            var h = nn.functional.silu(gu.narrow(1, 0, Intermediate)).mul_(gu.narrow(1, Intermediate, Intermediate));
            output.narrow(0, row, n).copy_(nn.functional.linear(h, _down[local]));
            row += n;
        }
        if (row != inputs.shape[0])
            throw new ArgumentException($"group counts cover {row} rows of {inputs.shape[0]}");
        return output.MoveToOuterDisposeScope();
    }

    /// <summary>Index of <paramref name="expert"/> in this object's weights; a clear error if it is not held here.</summary>
    private int LocalIndex(int expert) =>
        _localIndex.TryGetValue(expert, out int local)
            ? local
            : throw new ArgumentException($"expert {expert} is not held here (holds {string.Join(",", ExpertIds)})");

    /// <summary>An independent copy of these experts (benchmarks).</summary>
    internal GroupedExperts CloneWeights() =>
        new(ExpertIds, _gateUp.clone().DetachFromDisposeScope(), _down.clone().DetachFromDisposeScope());

    /// <summary>Whether the weights are bf16 on the CPU, as the streaming kernel needs (decided at construction).</summary>
    internal bool Streamable => _kernels.StreamsBf16;

    /// <summary>The kernel's view of expert <paramref name="expert"/>'s weights (addresses into tensors this object keeps alive).</summary>
    internal Bf16ExpertWeights StreamingWeights(int expert)
    {
        int local = LocalIndex(expert);
        int d = (int)_down.shape[1];
        long gateUpStride = 2L * Intermediate * d * sizeof(ushort), downStride = (long)d * Intermediate * sizeof(ushort);
        return new Bf16ExpertWeights(TensorData.Pointer(_gateUp) + (nint)(local * gateUpStride), TensorData.Pointer(_down) + (nint)(local * downStride), d, Intermediate);
    }

    private unsafe Tensor ComputeStreaming(Tensor inputs, IReadOnlyList<int> experts, IReadOnlyList<int> counts)
    {
        using var scope = NewDisposeScope();
        int rows = (int)inputs.shape[0], d = (int)inputs.shape[1];
        var x = inputs.to_type(ScalarType.Float32).contiguous();
        var y = torch.empty([rows, d], dtype: ScalarType.Float32);
        var assignments = new Bf16ExpertAssignment[experts.Count];
        int row = 0, used = 0;
        for (int g = 0; g < experts.Count; g++)
        {
            int n = counts[g];
            if (n == 0) continue;
            assignments[used++] = new Bf16ExpertAssignment(StreamingWeights(experts[g]), Enumerable.Range(row, n).ToArray());
            row += n;
        }
        if (row != rows)
            throw new ArgumentException($"group counts cover {row} rows of {rows}");
        var xs = new ReadOnlySpan<float>((void*)TensorData.Pointer(x), rows * d);
        var ys = new Span<float>((void*)TensorData.Pointer(y), rows * d);
        Bf16SwiGlu.ForwardMany(xs, rows, assignments.AsSpan(0, used), ys, accumulate: false);
        return y.to_type(inputs.dtype).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _gateUp.Dispose();
        _down.Dispose();
    }
}

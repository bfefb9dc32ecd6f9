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

    public GroupedExperts(IReadOnlyList<int> expertIds, Tensor gateUp, Tensor down)
    {
        if (gateUp.shape[0] != expertIds.Count || down.shape[0] != expertIds.Count)
            throw new ArgumentException($"expert weights hold {gateUp.shape[0]}/{down.shape[0]} experts for {expertIds.Count} ids");
        ExpertIds = expertIds.ToArray();
        _gateUp = gateUp;
        _down = down;
        _localIndex = ExpertIds.Select((e, i) => (e, i)).ToDictionary(p => p.e, p => p.i);
        Intermediate = (int)down.shape[2];
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
        using var scope = NewDisposeScope();
        var output = torch.empty_like(inputs);
        long row = 0;
        for (int g = 0; g < experts.Count; g++)
        {
            int n = counts[g];
            if (n == 0) continue;
            if (!_localIndex.TryGetValue(experts[g], out int local))
                throw new ArgumentException($"expert {experts[g]} is not held here (holds {string.Join(",", ExpertIds)})");
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

    public void Dispose()
    {
        _gateUp.Dispose();
        _down.Dispose();
    }
}

using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// A Llama 4 MoE feed-forward block (spec §2.6) in four steps: <see cref="Prepare"/> (router and
/// the dispatch rows <c>g·x</c>), the dispatcher (experts, local or remote), <see cref="Shared"/>
/// (computed while the dispatch is in flight) and <see cref="Combine"/>:
/// <c>y = Shared(x) + Σ_{e∈S} Expert_e(g_e·x)</c>. Each step is synchronous with its own dispose
/// scope, so an async caller can await the dispatch between them. How the steps are strung together
/// (fused, grouped, remote) is the model's <see cref="IMoeExecutor"/>. A block without a shared expert
/// (<see cref="ModelOptions.RemoteSharedExperts"/>: the cluster runs it as one more expert shard) gets
/// <c>Shared(x)</c> from its dispatcher (<see cref="ISharedExpertDispatcher"/>).
/// </summary>
public sealed class MoeBlock : IDisposable
{
    private readonly SwiGluMlp? _shared;

    /// <param name="shared">The shared expert; null when the dispatcher runs it (<see cref="ISharedExpertDispatcher"/>).</param>
    public MoeBlock(Router router, SwiGluMlp? shared)
    {
        Router = router;
        _shared = shared;
    }

    public Router Router { get; }

    /// <summary>The shared expert's weights (the fused kernel reads them directly); null when this block does not hold them.</summary>
    internal SwiGluMlp? SharedExpert => _shared;

    /// <summary>Whether this block holds its shared expert (otherwise its dispatcher computes <c>Shared(x)</c>).</summary>
    public bool HoldsSharedExpert => _shared is not null;

    /// <summary>Routes x <c>[T, D]</c> and builds the rows to dispatch, grouped by expert.</summary>
    public ExpertDispatchBatch Prepare(Tensor x)
    {
        using var scope = NewDisposeScope();
        using var routing = Router.Route(x);
        int k = Router.TopK;
        var flatIds = routing.ExpertIds.reshape(-1);
        var flatWeights = routing.Weights.reshape(-1);
        // Stable sort keeps, within one expert, rows in token order; the combine then adds each
        // token's experts in ascending expert order, as HF's sum over the expert dim does.
        var (sortedIds, order) = flatIds.sort(dim: 0, descending: false, stable: true);
        var tokenIndex = order.FloorDiv(k);
        var inputs = x.index_select(0, tokenIndex).mul_(flatWeights.index_select(0, order).unsqueeze(1));

        long[] ids = sortedIds.cpu().data<long>().ToArray();
        var experts = new List<int>();
        var counts = new List<int>();
        for (int i = 0; i < ids.Length; i++)
        {
            if (experts.Count == 0 || experts[^1] != ids[i])
            {
                experts.Add((int)ids[i]);
                counts.Add(0);
            }
            counts[^1]++;
        }
        return new ExpertDispatchBatch(inputs.DetachFromDisposeScope(), tokenIndex.DetachFromDisposeScope(), experts.ToArray(), counts.ToArray());
    }

    /// <summary>Independent copies of the router and shared-expert weights (benchmarks).</summary>
    internal (Tensor Router, Tensor SharedGateUp, Tensor SharedDown) CloneWeights() =>
        (Router.Weight.clone().DetachFromDisposeScope(), Held.GateUp.clone().DetachFromDisposeScope(), Held.Down.clone().DetachFromDisposeScope());

    /// <summary>The shared expert on x, weight 1, no gate.</summary>
    public Tensor Shared(Tensor x) => Held.Forward(x);

    private SwiGluMlp Held => _shared ?? throw new InvalidOperationException("this MoE block does not hold its shared expert: its dispatcher runs it (ISharedExpertDispatcher)");

    /// <summary>Scatter-adds the expert outputs into their tokens and adds the shared output.</summary>
    public static Tensor Combine(Tensor shared, ExpertDispatchBatch batch, Tensor expertOutputs)
    {
        using var scope = NewDisposeScope();
        var routed = torch.zeros_like(shared).IndexAddInPlace(0, batch.TokenIndex, expertOutputs);
        return shared.Add(routed).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        Router.Dispose();
        _shared?.Dispose();
    }
}

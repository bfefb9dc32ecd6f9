using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// How a model's MoE layers run their routed experts, chosen once when the model is loaded
/// (<see cref="MoeExecutors.Choose"/>): <see cref="FusedLocalMoeExecutor"/> (all experts in process, bf16 on the CPU:
/// decode batches in one kernel call), <see cref="DispatchingMoeExecutor"/> over a <see cref="LocalExpertDispatcher"/>
/// (all experts in process, any dtype or device: grouped GEMMs), or over a remote dispatcher (the cluster's expert
/// shards). Every strategy computes <c>y = Shared(x) + Σ_{e∈S} Expert_e(g_e·x)</c> (spec §2.6).
/// </summary>
public interface IMoeExecutor : IDisposable
{
    /// <summary>
    /// The MoE feed-forward of <paramref name="block"/> (MoE layer <paramref name="layer"/>) on its input <c>[T, D]</c>.
    /// Returns an owned tensor (no dispose scope); never holds a dispose scope across an await.
    /// </summary>
    ValueTask<torch.Tensor> ForwardAsync(MoeBlock block, int layer, torch.Tensor x, DispatchContext context, CancellationToken cancellationToken);
}

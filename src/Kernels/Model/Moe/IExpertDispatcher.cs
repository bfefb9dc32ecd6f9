using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// The seam between the MoE math and where the experts live (Router → Dispatcher → Experts →
/// Combiner). The local dispatcher computes in process; the cluster supplies one that sends each
/// expert shard its rows in one call and gathers the outputs.
/// </summary>
public interface IExpertDispatcher
{
    /// <summary>
    /// Runs the routed experts of MoE layer <paramref name="layer"/> on the batch's rows and returns
    /// their outputs <c>[P, D]</c>, row-aligned with <see cref="ExpertDispatchBatch.Inputs"/>, owned by
    /// the caller (detached from any dispose scope). Implementations must not hold a TorchSharp
    /// dispose scope across an await. <paramref name="context"/> names the step and pass the rows belong to.
    /// </summary>
    ValueTask<torch.Tensor> DispatchAsync(int layer, ExpertDispatchBatch batch, DispatchContext context, CancellationToken cancellationToken);
}

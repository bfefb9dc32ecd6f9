using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// A dispatcher that also runs the layer's shared expert (the cluster's shared-expert shard: one more expert that every
/// token is routed to with weight 1), for models loaded with <see cref="ModelOptions.RemoteSharedExperts"/>.
/// </summary>
public interface ISharedExpertDispatcher : IExpertDispatcher
{
    /// <summary>
    /// As <see cref="IExpertDispatcher.DispatchAsync"/> for the routed rows, and in the same round of calls the shared expert
    /// on the layer's input <paramref name="x"/> <c>[T, D]</c> (unscaled, every token). Returns the routed outputs
    /// <c>[P, D]</c> row-aligned with the batch and the shared output <c>[T, D]</c>, both owned by the caller.
    /// </summary>
    ValueTask<(torch.Tensor Routed, torch.Tensor Shared)> DispatchWithSharedAsync(int layer, ExpertDispatchBatch batch, torch.Tensor x,
        DispatchContext context, CancellationToken cancellationToken);
}

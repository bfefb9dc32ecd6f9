using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// Router → dispatch → experts → combine through an <see cref="IExpertDispatcher"/>: <see cref="MoeBlock.Prepare"/>
/// builds the rows <c>g·x</c> grouped by expert, the dispatcher runs them (in process or on the expert shards), the shared
/// expert runs while the dispatch is in flight, and <see cref="MoeBlock.Combine"/> scatter-adds the outputs. Each
/// synchronous part has its own dispose scope; only owned tensors cross the await. A block that does not hold its shared
/// expert gets it from the dispatcher (<see cref="ISharedExpertDispatcher"/>), computed on its shard beside the routed rows.
/// </summary>
public sealed class DispatchingMoeExecutor(IExpertDispatcher dispatcher, bool ownsDispatcher) : IMoeExecutor
{
    public IExpertDispatcher Dispatcher { get; } = dispatcher;

    public async ValueTask<torch.Tensor> ForwardAsync(MoeBlock block, int layer, torch.Tensor x, DispatchContext context, CancellationToken cancellationToken)
    {
        using var batch = block.Prepare(x);
        if (!block.HoldsSharedExpert) return await WithRemoteSharedAsync(batch, layer, x, context, cancellationToken).ConfigureAwait(false);
        var pending = Dispatcher.DispatchAsync(layer, batch, context, cancellationToken);
        var shared = block.Shared(x).DetachFromDisposeScope();
        try
        {
            using var outputs = await pending.ConfigureAwait(false);
            return MoeBlock.Combine(shared, batch, outputs).DetachFromDisposeScope();
        }
        finally
        {
            shared.Dispose();
        }
    }

    /// <summary>The shared expert runs on its shard beside the routed dispatch; the combine is the same, so with exact
    /// transfers (fp32 wire) the output is bit-for-bit the local one.</summary>
    private async ValueTask<torch.Tensor> WithRemoteSharedAsync(ExpertDispatchBatch batch, int layer, torch.Tensor x, DispatchContext context,
        CancellationToken cancellationToken)
    {
        if (Dispatcher is not ISharedExpertDispatcher remote)
            throw new InvalidOperationException($"MoE layer {layer} holds no shared expert and its dispatcher cannot run one ({Dispatcher.GetType().Name})");
        var (routed, shared) = await remote.DispatchWithSharedAsync(layer, batch, x, context, cancellationToken).ConfigureAwait(false);
        using (routed)
        using (shared)
            return MoeBlock.Combine(shared, batch, routed).DetachFromDisposeScope();
    }

    public void Dispose()
    {
        if (ownsDispatcher && Dispatcher is IDisposable d) d.Dispose();
    }
}

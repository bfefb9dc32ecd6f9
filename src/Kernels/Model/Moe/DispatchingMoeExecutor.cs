using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// Router → dispatch → experts → combine through an <see cref="IExpertDispatcher"/>: <see cref="MoeBlock.Prepare"/>
/// builds the rows <c>g·x</c> grouped by expert, the dispatcher runs them (in process or on the expert shards), the shared
/// expert runs while the dispatch is in flight, and <see cref="MoeBlock.Combine"/> scatter-adds the outputs. Each
/// synchronous part has its own dispose scope; only owned tensors cross the await.
/// </summary>
public sealed class DispatchingMoeExecutor(IExpertDispatcher dispatcher, bool ownsDispatcher) : IMoeExecutor
{
    public IExpertDispatcher Dispatcher { get; } = dispatcher;

    public async ValueTask<torch.Tensor> ForwardAsync(MoeBlock block, int layer, torch.Tensor x, DispatchContext context, CancellationToken cancellationToken)
    {
        using var batch = block.Prepare(x);
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

    public void Dispose()
    {
        if (ownsDispatcher && Dispatcher is IDisposable d) d.Dispose();
    }
}

using Llama4Cluster.Kernels.Cpu;
using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// Every routed expert in process with bf16 CPU weights (checked once, at load, by <see cref="MoeExecutors.Choose"/>):
/// batches of up to <see cref="Bf16MatMul.MaxDecodeBatch"/> tokens run router, shared and routed experts in ONE
/// streaming-kernel call (<see cref="FusedLocalMoe"/>); larger batches are GEMM-bound and take the grouped path, unless
/// <paramref name="batchInvariant"/>: then every batch is fused, so a token's result does not depend on how many share its step.
/// </summary>
public sealed class FusedLocalMoeExecutor(LocalExpertDispatcher experts, bool batchInvariant = false) : IMoeExecutor
{
    private readonly DispatchingMoeExecutor _grouped = new(experts, ownsDispatcher: true);

    public ValueTask<torch.Tensor> ForwardAsync(MoeBlock block, int layer, torch.Tensor x, DispatchContext context, CancellationToken cancellationToken) =>
        batchInvariant || x.shape[0] <= Bf16MatMul.MaxDecodeBatch
            ? ValueTask.FromResult(FusedLocalMoe.Forward(x, block.Router, experts.Layer(layer), block.SharedExpert!)) // Choose fuses only blocks that hold it
            : _grouped.ForwardAsync(block, layer, x, context, cancellationToken);

    public void Dispose() => _grouped.Dispose();
}

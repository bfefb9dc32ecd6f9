using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// The router's choice for T tokens: the top-k experts by raw logit and their sigmoid weights.
/// Owns its tensors.
/// </summary>
/// <param name="ExpertIds">int64 <c>[T, k]</c>.</param>
/// <param name="Weights"><c>[T, k]</c> in the activation dtype: <c>sigmoid(logit)</c> computed in fp32, cast back.</param>
public sealed record RoutingResult(torch.Tensor ExpertIds, torch.Tensor Weights) : IDisposable
{
    public void Dispose()
    {
        ExpertIds.Dispose();
        Weights.Dispose();
    }
}

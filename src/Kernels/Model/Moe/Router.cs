using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// Llama 4 router (spec §2.6 steps 1–3): logits <c>x·Wrᵀ</c>, top-k on the RAW logits (no softmax,
/// no bias, no groups), weights <c>sigmoid</c> of the chosen logits, independent per expert —
/// no renormalisation over the k chosen.
/// </summary>
public sealed class Router : IDisposable
{
    private readonly Tensor _weight; // [E, D]

    public Router(Tensor weight, int topK)
    {
        _weight = weight;
        TopK = topK;
    }

    public int TopK { get; }

    public int NumExperts => (int)_weight.shape[0];

    public RoutingResult Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = nn.functional.linear(x, _weight);
        var (values, indices) = logits.topk(TopK, dim: 1);
        var weights = values.to_type(ScalarType.Float32).sigmoid_().to_type(x.dtype);
        var ids = indices.DetachFromDisposeScope();
        return new RoutingResult(ids, weights.DetachFromDisposeScope());
    }

    public void Dispose() => _weight.Dispose();
}

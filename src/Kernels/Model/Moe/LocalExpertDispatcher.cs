using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// Runs every routed expert in this process: the reference the distributed dispatcher is compared
/// with. Completes synchronously.
/// </summary>
public sealed class LocalExpertDispatcher : IExpertDispatcher, IDisposable
{
    private readonly Dictionary<int, GroupedExperts> _layers = new();

    public void Add(int layer, GroupedExperts experts) => _layers.Add(layer, experts);

    public GroupedExperts Layer(int layer) => _layers[layer];

    public bool TryGetLayer(int layer, out GroupedExperts experts) => _layers.TryGetValue(layer, out experts!);

    public long WeightBytes => _layers.Values.Sum(e => e.WeightBytes);

    public ValueTask<torch.Tensor> DispatchAsync(int layer, ExpertDispatchBatch batch, DispatchContext context, CancellationToken cancellationToken)
    {
        if (!_layers.TryGetValue(layer, out var experts))
            throw new InvalidOperationException($"no experts loaded for MoE layer {layer}");
        var output = experts.Compute(batch.Inputs, batch.ExpertIds, batch.Counts);
        return ValueTask.FromResult(output.DetachFromDisposeScope());
    }

    public void Dispose()
    {
        foreach (var e in _layers.Values) e.Dispose();
        _layers.Clear();
    }
}

using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Model;
using TorchSharp;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>Serves a model's tensors from a checkpoint on disk.</summary>
public sealed class CheckpointWeightSource : IWeightSource
{
    private readonly CheckpointReader _reader;

    public CheckpointWeightSource(CheckpointReader reader) => _reader = reader;

    public Llama4TextConfig Config => _reader.Config;

    public bool Contains(string name) => _reader.TensorNames.Contains(name);

    public torch.Tensor Load(string name, long[] shape, torch.ScalarType dtype, torch.Device device) =>
        _reader.Load(name, shape, dtype, device);

    public torch.Tensor LoadRows(IReadOnlyList<(string Name, long[] Shape)> parts, torch.ScalarType dtype, torch.Device device) =>
        _reader.LoadRows(parts, dtype, device);

    public (torch.Tensor GateUp, torch.Tensor Down) LoadExperts(int layer, IReadOnlyList<int> experts, torch.ScalarType dtype, torch.Device device)
    {
        // Ownership of the two tensors passes to the caller.
        var weights = _reader.LoadExperts(layer, experts, dtype, device);
        return (weights.GateUp, weights.Down);
    }
}

using Llama4Cluster.Core.Config;
using TorchSharp;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// Where a model's tensors come from: a checkpoint on disk or, in tests, tensors built in memory.
/// Names are the logical text-model names (<c>model.layers.{i}.self_attn.q_proj.weight</c>,
/// <c>lm_head.weight</c>, …) whatever the on-disk prefix.
/// </summary>
public interface IWeightSource
{
    Llama4TextConfig Config { get; }

    /// <summary>Whether a tensor of that name exists (the vision loader asks which name layout the checkpoint uses); by
    /// default unknown, and callers try the first layout.</summary>
    bool Contains(string name) => false;

    /// <summary>Loads one tensor, checked against <paramref name="shape"/>, converted to <paramref name="dtype"/>.
    /// The caller owns the result.</summary>
    torch.Tensor Load(string name, long[] shape, torch.ScalarType dtype, torch.Device device);

    /// <summary>
    /// Loads 2-D weights stacked by rows into one <c>[Σ rows, cols]</c> tensor (q, k, v; gate, up) so that one GEMM reads
    /// them; each part checked against its shape. The caller owns the result. By default each part is loaded and copied in.
    /// </summary>
    torch.Tensor LoadRows(IReadOnlyList<(string Name, long[] Shape)> parts, torch.ScalarType dtype, torch.Device device)
    {
        var loaded = new torch.Tensor[parts.Count];
        try
        {
            for (int i = 0; i < parts.Count; i++) loaded[i] = Load(parts[i].Name, parts[i].Shape, dtype, device);
            return Llama4TextModel.StackRows(loaded);
        }
        finally
        {
            foreach (var t in loaded) t?.Dispose();
        }
    }

    /// <summary>Loads the routed experts <paramref name="experts"/> of one MoE layer in nn.Linear orientation:
    /// GateUp <c>[n, 2F, D]</c> (rows 0..F-1 gate, F..2F-1 up) and Down <c>[n, D, F]</c>. Reads only those experts.</summary>
    (torch.Tensor GateUp, torch.Tensor Down) LoadExperts(int layer, IReadOnlyList<int> experts, torch.ScalarType dtype, torch.Device device);
}

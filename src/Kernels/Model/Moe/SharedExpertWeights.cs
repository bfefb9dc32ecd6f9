using TorchSharp;

namespace Llama4Cluster.Kernels.Model.Moe;

/// <summary>
/// A MoE layer's shared expert (spec §2.6: a SwiGLU MLP of width F, applied to every token with weight 1), loaded from its
/// three checkpoint tensors with gate and up fused into one <c>[2F, D]</c> weight. One loader for the rank that holds it
/// and for the cluster's shared-expert shard, so both run the same weights the same way.
/// </summary>
public static class SharedExpertWeights
{
    /// <summary>The checkpoint names of layer <paramref name="layer"/>'s shared-expert tensors: gate, up, down.</summary>
    public static IReadOnlyList<string> Names(int layer)
    {
        string f = $"model.layers.{layer}.feed_forward.shared_expert.";
        return [f + "gate_proj.weight", f + "up_proj.weight", f + "down_proj.weight"];
    }

    /// <summary>Loads layer <paramref name="layer"/>'s shared expert; the caller owns the result.</summary>
    public static SwiGluMlp Load(IWeightSource source, int layer, torch.ScalarType dtype, torch.Device device, KernelPolicy? kernels = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        var c = source.Config;
        long d = c.HiddenSize, ff = c.IntermediateSize;
        var names = Names(layer);
        using var scope = torch.NewDisposeScope();
        // Gate and up as one [2F, D] weight: one view of the mapped file where the two lie back to back, else one copy.
        var gateUp = source.LoadRows([(names[0], [ff, d]), (names[1], [ff, d])], dtype, device);
        var down = source.Load(names[2], [d, ff], dtype, device);
        return new SwiGluMlp(gateUp.DetachFromDisposeScope(), down.DetachFromDisposeScope(), kernels);
    }
}

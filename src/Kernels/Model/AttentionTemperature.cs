using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// Attention temperature tuning of NoPE layers (spec §2.3 step 4):
/// <c>τ(p) = 1 + attn_scale · ln(1 + floor((p + 1) / floor_scale))</c>, fp32, for the query's
/// absolute position p. Multiplies q only.
/// </summary>
public static class AttentionTemperature
{
    public static double Scale(long position, double floorScale, double attnScale) =>
        1.0 + attnScale * Math.Log(1.0 + Math.Floor((position + 1.0) / floorScale));

    /// <summary>τ for each position of <paramref name="positions"/> (int64 [T]) as fp32 [T], in the HF op order.</summary>
    public static Tensor Scales(Tensor positions, double floorScale, double attnScale)
    {
        using var scope = NewDisposeScope();
        var p = positions.to_type(ScalarType.Float32);
        return p.Add(1.0).DivInPlace(floorScale).floor_().AddInPlace(1.0).log_().MulInPlace(attnScale).AddInPlace(1.0).MoveToOuterDisposeScope();
    }
}

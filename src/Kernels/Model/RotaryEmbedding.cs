using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Cpu;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// RoPE on interleaved pairs <c>(u[2i], u[2i+1])</c> with optional llama3 frequency scaling
/// (spec §2.4). Released checkpoints keep Meta's row order, so the pairs are adjacent; the
/// Llama-2/3-HF <c>rotate_half</c> pairing would be wrong on raw weights.
/// </summary>
public sealed class RotaryEmbedding : IDisposable
{
    private readonly Tensor _invFreq; // fp32 [hd/2] on the model device

    public RotaryEmbedding(int headDim, double theta, RopeScaling? scaling, Device device)
    {
        InverseFrequencies = ComputeInverseFrequencies(headDim, theta, scaling);
        // Owned here, not by a dispose scope the caller may have open (that scope's end would free it under the model).
        _invFreq = torch.tensor(InverseFrequencies, dtype: ScalarType.Float32, device: device).DetachFromDisposeScope();
    }

    /// <summary>The (scaled) inverse frequencies, one per rotated pair.</summary>
    public float[] InverseFrequencies { get; }

    /// <summary>
    /// <c>inv_freq[i] = 1 / theta^(2i/hd)</c> computed in fp32 as torch does, then llama3-scaled
    /// with explicit branches: HF's vectorised form divides by <c>high − low</c>, which is 0 for
    /// Scout (16/1/1); the resulting NaN must never reach a kept entry.
    /// </summary>
    public static float[] ComputeInverseFrequencies(int headDim, double theta, RopeScaling? scaling)
    {
        int pairs = headDim / 2;
        var inv = new float[pairs];
        for (int i = 0; i < pairs; i++)
        {
            float exponent = (float)(2 * i) / headDim;
            inv[i] = 1f / MathF.Pow((float)theta, exponent);
        }
        if (scaling is null) return inv;

        double lowFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.LowFreqFactor;
        double highFreqWavelen = scaling.OriginalMaxPositionEmbeddings / scaling.HighFreqFactor;
        float factor = (float)scaling.Factor;
        for (int i = 0; i < pairs; i++)
        {
            float wavelen = (float)(2 * Math.PI) / inv[i];
            if (wavelen < highFreqWavelen)
                continue; // high frequencies: kept
            if (wavelen > lowFreqWavelen)
            {
                inv[i] /= factor; // low frequencies: divided
                continue;
            }
            // Smooth band (empty when low == high): interpolate between scaled and unscaled.
            float smooth = (float)((scaling.OriginalMaxPositionEmbeddings / wavelen - scaling.LowFreqFactor)
                                   / (scaling.HighFreqFactor - scaling.LowFreqFactor));
            inv[i] = (1 - smooth) * inv[i] / factor + smooth * inv[i];
        }
        return inv;
    }

    /// <summary>cos and sin of <c>float32(p) · inv_freq[i]</c>, fp32, each <c>[T, hd/2]</c>.</summary>
    public (Tensor Cos, Tensor Sin) CosSin(Tensor positions)
    {
        using var scope = NewDisposeScope();
        var angles = positions.to_type(ScalarType.Float32).unsqueeze(1).mul(_invFreq.unsqueeze(0));
        return (angles.cos().MoveToOuterDisposeScope(), angles.sin().MoveToOuterDisposeScope());
    }

    /// <summary>
    /// Rotates x <c>[T, heads, hd]</c> in fp32 with per-token cos/sin <c>[T, hd/2]</c> and casts back:
    /// <c>u'[2i] = u[2i]·cos − u[2i+1]·sin</c>, <c>u'[2i+1] = u[2i]·sin + u[2i+1]·cos</c>. bf16 on the CPU goes to
    /// <see cref="Bf16RowKernels.Rope"/> (the same arithmetic in one pass, bit for bit).
    /// </summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        if (Bf16RowKernels.Rope(x, cos, sin) is { } fused) return fused;
        using var scope = NewDisposeScope();
        long t = x.shape[0], heads = x.shape[1], hd = x.shape[2];
        var pairs = x.to_type(ScalarType.Float32).reshape(t, heads, hd / 2, 2);
        var even = pairs.select(3, 0);
        var odd = pairs.select(3, 1);
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        var outEven = even.mul(c).sub_(odd.mul(s));
        var outOdd = even.mul(s).AddInPlace(odd.mul(c));
        return torch.stack([outEven, outOdd], 3).reshape(t, heads, hd).to_type(x.dtype).MoveToOuterDisposeScope();
    }

    public void Dispose() => _invFreq.Dispose();
}

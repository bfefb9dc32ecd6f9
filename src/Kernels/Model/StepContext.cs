using Llama4Cluster.Kernels.Model.Moe;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// Per-step data shared by all layers: the slices, per-token absolute positions (per sequence,
/// never a padded column), RoPE cos/sin, attention temperatures, and the <see cref="DispatchContext"/> every MoE
/// layer's dispatch carries. Owns its tensors.
/// </summary>
public sealed class StepContext : IDisposable
{
    private readonly Dictionary<(double, double), Tensor> _temperatures = new();

    public StepContext(IReadOnlyList<SequenceSlice> slices, RotaryEmbedding rope, Device device, DispatchContext dispatch = default)
    {
        Slices = slices;
        Dispatch = dispatch;
        var positions = new long[slices.Sum(s => s.Tokens.Count)];
        int i = 0;
        foreach (var s in slices)
            for (int j = 0; j < s.Tokens.Count; j++)
                positions[i++] = s.Cache.Length + j;
        Positions = torch.tensor(positions, dtype: ScalarType.Int64, device: device).DetachFromDisposeScope();
        var (cos, sin) = rope.CosSin(Positions);
        Cos = cos.DetachFromDisposeScope();
        Sin = sin.DetachFromDisposeScope();
    }

    public IReadOnlyList<SequenceSlice> Slices { get; }

    /// <summary>The step and pass this forward pass is (stamped on expert dispatches).</summary>
    public DispatchContext Dispatch { get; }

    /// <summary>int64 <c>[T]</c>.</summary>
    public Tensor Positions { get; }

    /// <summary>fp32 <c>[T, hd/2]</c>.</summary>
    public Tensor Cos { get; }

    public Tensor Sin { get; }

    public int TokenCount => (int)Positions.shape[0];

    /// <summary>τ per token (fp32 <c>[T]</c>), computed once per step for each (floor_scale, attn_scale).</summary>
    public Tensor Temperature(double floorScale, double attnScale)
    {
        if (!_temperatures.TryGetValue((floorScale, attnScale), out var t))
        {
            t = AttentionTemperature.Scales(Positions, floorScale, attnScale).DetachFromDisposeScope();
            _temperatures[(floorScale, attnScale)] = t;
        }
        return t;
    }

    public void Dispose()
    {
        Positions.Dispose();
        Cos.Dispose();
        Sin.Dispose();
        foreach (var t in _temperatures.Values) t.Dispose();
    }
}

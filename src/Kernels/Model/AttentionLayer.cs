using Llama4Cluster.Core.Config;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// Llama 4 self-attention (spec §2.3) over a ragged batch: projections, RoPE, QK norm and
/// temperature run on all T tokens at once with per-token absolute positions; the score/softmax
/// part runs per sequence against that sequence's cache. GQA: query head h reads kv head
/// <c>h / G</c>. RoPE layers are chunked (absolute chunks of C), NoPE layers global.
/// </summary>
public sealed class AttentionLayer : IDisposable
{
    private readonly Tensor _qkv; // [(H + 2·KV)·hd, D]: q, k, v rows fused for one GEMM
    private readonly Tensor _o;   // [D, H·hd]
    private readonly int _layer;
    private readonly int _heads;
    private readonly int _kvHeads;
    private readonly int _headDim;
    private readonly bool _rope;
    private readonly bool _qkNorm;
    private readonly bool _temperature;
    private readonly int? _chunk;
    private readonly double _eps;
    private readonly double _floorScale;
    private readonly double _attnScale;
    private readonly double _scale;
    private readonly KernelPolicy _kernels;

    /// <param name="kernels">Null: decided from how <paramref name="qkv"/> is held (<see cref="KernelPolicy.For(Tensor)"/>).</param>
    public AttentionLayer(Llama4TextConfig config, int layer, Tensor qkv, Tensor o, KernelPolicy? kernels = null)
    {
        _kernels = kernels ?? KernelPolicy.For(qkv);
        _layer = layer;
        _qkv = qkv;
        _o = o;
        _heads = config.NumAttentionHeads;
        _kvHeads = config.NumKeyValueHeads;
        _headDim = config.HeadDim;
        _rope = config.IsRopeLayer(layer);
        _qkNorm = _rope && config.UseQkNorm;
        _temperature = !_rope && config.AttnTemperatureTuning;
        _chunk = _rope ? config.AttentionChunkSize : null;
        _eps = config.RmsNormEps;
        _floorScale = config.FloorScale;
        _attnScale = config.AttnScale;
        _scale = 1.0 / Math.Sqrt(_headDim);
    }

    /// <param name="x">Normed hidden states <c>[T, D]</c> of all slices, concatenated in slice order.</param>
    /// <param name="step">Per-token positions and the slices' layout.</param>
    public Tensor Forward(Tensor x, StepContext step)
    {
        using var scope = NewDisposeScope();
        long t = x.shape[0];
        var qkv = _kernels.Linear(x, _qkv);
        var q = qkv.narrow(1, 0, _heads * _headDim).reshape(t, _heads, _headDim);
        var k = qkv.narrow(1, _heads * _headDim, _kvHeads * _headDim).reshape(t, _kvHeads, _headDim);
        var v = qkv.narrow(1, (_heads + _kvHeads) * _headDim, _kvHeads * _headDim).reshape(t, _kvHeads, _headDim);

        if (_rope)
        {
            q = RotaryEmbedding.Apply(q, step.Cos, step.Sin);
            k = RotaryEmbedding.Apply(k, step.Cos, step.Sin);
            if (_qkNorm)
            {
                q = RmsNorm.Normalize(q, _eps);
                k = RmsNorm.Normalize(k, _eps);
            }
        }
        else if (_temperature)
        {
            q = q.to_type(ScalarType.Float32).mul_(step.Temperature(_floorScale, _attnScale).reshape(t, 1, 1)).to_type(x.dtype);
        }

        var outputs = new List<Tensor>(step.Slices.Count);
        long row = 0;
        for (int s = 0; s < step.Slices.Count; s++)
        {
            var slice = step.Slices[s];
            int n = slice.Tokens.Count;
            var cache = slice.Cache.Layer(_layer);
            var (keys, values) = cache.Append(k.narrow(0, row, n), v.narrow(0, row, n));
            outputs.Add(AttentionCore.Attend(q.narrow(0, row, n), keys, values, slice.Cache.Length, cache.StartPosition, _chunk, _scale, _kernels));
            row += n;
        }
        var o = outputs.Count == 1 ? outputs[0] : torch.cat(outputs, 0);
        return _kernels.Linear(o, _o).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        _qkv.Dispose();
        _o.Dispose();
    }
}

using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// One pre-norm decoder layer (spec §2.1): <c>h = x + Attn(RMSNorm(x))</c>,
/// <c>x = h + FFN(RMSNorm(h))</c> with FFN a dense SwiGLU or a MoE block.
/// </summary>
public sealed class DecoderLayer : IDisposable
{
    private readonly Tensor _inputNorm;
    private readonly Tensor _postAttentionNorm;
    private readonly double _eps;

    public DecoderLayer(int index, Tensor inputNorm, AttentionLayer attention, Tensor postAttentionNorm, SwiGluMlp? dense, MoeBlock? moe, double eps)
    {
        if ((dense is null) == (moe is null))
            throw new ArgumentException("a layer has exactly one of a dense MLP and a MoE block");
        Index = index;
        _inputNorm = inputNorm;
        Attention = attention;
        _postAttentionNorm = postAttentionNorm;
        Dense = dense;
        Moe = moe;
        _eps = eps;
    }

    public int Index { get; }
    public AttentionLayer Attention { get; }
    public SwiGluMlp? Dense { get; }
    public MoeBlock? Moe { get; }

    /// <summary>Attention half: returns the new residual h and the FFN input RMSNorm(h), both owned (no scope).</summary>
    public (Tensor Residual, Tensor FfnInput) AttentionHalf(Tensor x, StepContext step)
    {
        using var scope = NewDisposeScope();
        var normed = RmsNorm.Apply(x, _inputNorm, _eps);
        var h = x.Add(Attention.Forward(normed, step));
        var ffnIn = RmsNorm.Apply(h, _postAttentionNorm, _eps);
        return (h.DetachFromDisposeScope(), ffnIn.DetachFromDisposeScope());
    }

    /// <summary>The whole layer. Returns an owned tensor; does not dispose <paramref name="x"/>.</summary>
    public async ValueTask<Tensor> ForwardAsync(Tensor x, StepContext step, IMoeExecutor moe, CancellationToken cancellationToken)
    {
        var (h, ffnIn) = AttentionHalf(x, step);
        try
        {
            Tensor ffn;
            if (Dense is not null)
                ffn = Dense.Forward(ffnIn).DetachFromDisposeScope();
            else
                ffn = await moe.ForwardAsync(Moe!, Index, ffnIn, step.Dispatch, cancellationToken).ConfigureAwait(false);
            using (ffn)
                return h.Add(ffn).DetachFromDisposeScope();
        }
        finally
        {
            h.Dispose();
            ffnIn.Dispose();
        }
    }

    public void Dispose()
    {
        _inputNorm.Dispose();
        _postAttentionNorm.Dispose();
        Attention.Dispose();
        Dense?.Dispose();
        Moe?.Dispose();
    }
}

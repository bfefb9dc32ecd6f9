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

    private readonly KernelPolicy _kernels;

    /// <param name="kernels">Null: decided from how <paramref name="weight"/> is held (<see cref="KernelPolicy.For(Tensor)"/>).</param>
    public Router(Tensor weight, int topK, KernelPolicy? kernels = null)
    {
        _weight = weight;
        TopK = topK;
        _kernels = kernels ?? KernelPolicy.For(weight);
    }

    public int TopK { get; }

    /// <summary><c>[E, D]</c>.</summary>
    internal Tensor Weight => _weight;

    public int NumExperts => (int)_weight.shape[0];

    public RoutingResult Route(Tensor x)
    {
        using var scope = NewDisposeScope();
        var logits = _kernels.Linear(x, _weight);
        var (values, indices) = logits.topk(TopK, dim: 1);
        var weights = values.to_type(ScalarType.Float32).sigmoid_().to_type(x.dtype);
        var ids = indices.DetachFromDisposeScope();
        return new RoutingResult(ids, weights.DetachFromDisposeScope());
    }

    /// <summary>
    /// The same routing for a small batch, decided on the CPU from the logits: expert ids
    /// <c>[T·k]</c> (each token's k experts, highest raw logit first; exact ties go to the lower id)
    /// and their sigmoid weights rounded to <paramref name="activationDType"/> as <see cref="Route"/> does.
    /// </summary>
    internal (int[] Ids, float[] Weights) RouteOnCpu(Tensor x, ScalarType activationDType)
    {
        float[] logits;
        using (var scope = NewDisposeScope())
            logits = Cpu.TensorData.ToFloatArray(_kernels.Linear(x, _weight).to_type(ScalarType.Float32));
        int t = (int)x.shape[0], e = NumExperts, k = TopK;
        var ids = new int[t * k];
        var weights = new float[t * k];
        for (int row = 0; row < t; row++)
        {
            var span = logits.AsSpan(row * e, e);
            for (int j = 0; j < k; j++)
            {
                int best = -1;
                for (int c = 0; c < e; c++)
                {
                    if (best >= 0 && span[c] <= span[best]) continue;
                    bool taken = false;
                    for (int p = 0; p < j; p++) taken |= ids[row * k + p] == c;
                    if (!taken) best = c;
                }
                ids[row * k + j] = best;
                float g = 1f / (1f + MathF.Exp(-span[best]));
                weights[row * k + j] = activationDType == ScalarType.BFloat16 ? (float)(BFloat16)g : g;
            }
        }
        return (ids, weights);
    }

    public void Dispose() => _weight.Dispose();
}

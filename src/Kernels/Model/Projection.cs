using Llama4Cluster.Kernels.Cpu;
using TorchSharp;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// <c>y = x·Wᵀ</c> for the model's dense weights, choosing the kernel by batch size: the AVX-512
/// weight-streaming kernel reads bf16 weights at ~0.7 of the memory bandwidth for up to a few rows
/// (torch's bf16 GEMV: ~0.27), but from about 4 rows on it is arithmetic-bound and torch/oneDNN is
/// as fast or faster (measured: 1 row 0.70–0.76 of bandwidth, 8 rows 0.29–0.33).
/// </summary>
public static class Projection
{
    /// <summary>Most rows sent to the streaming kernel.</summary>
    public const int StreamingRowLimit = 4;

    public static torch.Tensor Apply(torch.Tensor x, torch.Tensor weight) =>
        Bf16Linear.Linear(x, weight, maxRows: StreamingRowLimit);
}

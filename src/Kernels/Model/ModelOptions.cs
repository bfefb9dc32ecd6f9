using Llama4Cluster.Kernels.Model.Moe;
using TorchSharp;

namespace Llama4Cluster.Kernels.Model;

/// <summary>Runtime settings of a loaded model: where it runs and in which dtype it computes.</summary>
public sealed record ModelOptions
{
    /// <summary>Weights and activations dtype. RMS norms, RoPE, router sigmoid, softmax and logits are fp32 regardless.</summary>
    public torch.ScalarType ComputeDType { get; init; } = torch.ScalarType.Float32;
    public torch.Device Device { get; init; } = torch.CPU;

    /// <summary>How experts held in process run (<see cref="MoeExecutors.Choose"/>); ignored when a remote dispatcher reaches them.</summary>
    public LocalMoeStrategy LocalMoe { get; init; } = LocalMoeStrategy.Auto;

    /// <summary>The pipeline stage this model is: the layers it loads and runs (see <see cref="LayerRange"/>); null: every
    /// layer, the embeddings and the head (a one-stage rank).</summary>
    public LayerRange? Layers { get; init; }

    /// <summary>Whether the MoE layers' shared experts run where the remote dispatcher sends them (the cluster's shared-expert
    /// shards, <see cref="ISharedExpertDispatcher"/>) rather than here: the model then loads no shared-expert weight.
    /// Needs a dispatcher that implements <see cref="ISharedExpertDispatcher"/>.</summary>
    public bool RemoteSharedExperts { get; init; }

    /// <summary>
    /// bf16 on the CPU with batch-invariant kernels (<see cref="KernelPolicy.BatchInvariant"/>): a row's result does not
    /// depend on the other rows of its call nor on whether it came from prefill or decode, so greedy output is the same
    /// alone, in any batch, and after a re-prefill. No effect in float32; refused off the CPU (<see cref="KernelPolicy.For(ModelOptions)"/>).
    /// </summary>
    public bool BatchInvariant { get; init; }
}

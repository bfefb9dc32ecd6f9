namespace Llama4Cluster.Kernels.Checkpoints;

/// <summary>How the routed experts of a MoE layer are stored.</summary>
public enum ExpertStorage
{
    /// <summary>Hugging Face BF16 layout: <c>experts.gate_up_proj</c> [E, D, 2F] and <c>experts.down_proj</c> [E, F, D], untransposed.</summary>
    Fused,

    /// <summary>One nn.Linear per expert: <c>experts.{e}.gate_proj.weight</c> [F, D], <c>up_proj</c> [F, D], <c>down_proj</c> [D, F].</summary>
    PerExpert,

    /// <summary>
    /// As <see cref="PerExpert"/> but FP8 E4M3 weights with a per-output-row <c>weight_scale</c>
    /// (compressed-tensors, the FP8 Maverick checkpoint, spec §3.2).
    /// </summary>
    PerExpertFp8,
}

namespace Llama4Cluster.Cluster.Placement;

/// <summary>How the weights are stored on the devices.</summary>
public enum WeightDType
{
    /// <summary>Everything bf16: 2 bytes per parameter.</summary>
    Bf16,
    /// <summary>
    /// The Maverick FP8 release layout (spec §3.2): routed experts FP8 E4M3 (1 byte per parameter)
    /// with one scale per output row; attention, dense MLPs, shared experts, routers, norms,
    /// embeddings and lm_head stay bf16.
    /// </summary>
    Fp8,
}

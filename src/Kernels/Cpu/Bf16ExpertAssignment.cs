namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// The tokens routed to one expert in a MoE layer call of <see cref="Bf16SwiGlu.ForwardMany"/>.
/// </summary>
/// <param name="Weights">The expert.</param>
/// <param name="Tokens">Row indices into the layer's x / y.</param>
/// <param name="InputScales">Empty, or one factor per token applied to x before the expert
/// (Llama 4 scales the expert's input by the router's sigmoid score).</param>
/// <param name="OutputScales">Empty, or one factor per token applied to the expert's output
/// (Mixtral-style top-k weighting).</param>
public readonly record struct Bf16ExpertAssignment(
    Bf16ExpertWeights Weights,
    ReadOnlyMemory<int> Tokens,
    ReadOnlyMemory<float> InputScales = default,
    ReadOnlyMemory<float> OutputScales = default);

using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>
/// The hand-off of one forward pass from a pipeline stage to the next: the pass's sequences as a step of their own (each
/// one's new tokens of the pass; its start in the first pass it is in; sample where its last tokens are), the pass within
/// the engine step, and the hidden states <c>[T, D]</c> after the previous stage's layers (the pass's tokens in order).
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.StagePassRequest")]
public sealed record StagePassRequest(
    [property: Id(0)] StepRequest Pass,
    [property: Id(1)] int PassIndex,
    [property: Id(2)] TensorPayload Hidden);

using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Contracts.Experts;

/// <summary>The experts' outputs <c>[P, D]</c>, row-aligned with the request's inputs, in its wire dtype.</summary>
[GenerateSerializer, Immutable, Alias("l4c.ExpertShardResponse")]
public sealed record ExpertShardResponse(
    [property: Id(0)] TensorPayload Outputs,
    [property: Id(1)] double ComputeMilliseconds);

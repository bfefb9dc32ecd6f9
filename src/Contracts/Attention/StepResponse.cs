using System.Collections.Immutable;
using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>
/// A step's result: one sample per sequence that asked, in request order; and, for exactness tests only,
/// fp32 logits <c>[R, V]</c> of the rows of the slices that asked (request order), else null.
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.StepResponse")]
public sealed record StepResponse(
    [property: Id(0)] ImmutableArray<SampledTokenResult> Samples,
    [property: Id(1)] TensorPayload? Logits);

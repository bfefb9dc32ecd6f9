using System.Collections.Immutable;
using Llama4Cluster.Contracts.Tensors;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>
/// A step's result: one sample per sequence that asked, in request order; and, for exactness tests only,
/// fp32 logits <c>[R, V]</c> of the rows of the slices that asked (request order), else null; the sequences whose
/// own sampling failed (dropped by the rank, not among the samples); per sequence, the new tokens the rank restored from
/// its prefix cache instead of computing them (none: empty); and the silo that ran the step (its identity and
/// data-plane endpoint), so a client watches the silo the rank lives on now, even after Orleans re-activated it elsewhere.
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.StepResponse")]
public sealed record StepResponse(
    [property: Id(0)] ImmutableArray<SampledTokenResult> Samples,
    [property: Id(1)] TensorPayload? Logits,
    [property: Id(2)] ImmutableArray<SequenceFailureResult> Failures = default,
    [property: Id(3)] string? Silo = null,
    [property: Id(4)] Experts.DataEndpoint? SiloEndpoint = null,
    [property: Id(5)] ImmutableArray<PrefixCacheHitResult> CacheHits = default);

/// <summary>Tokens of one sequence's step that its rank restored from its prefix cache.</summary>
[GenerateSerializer, Immutable, Alias("l4c.PrefixCacheHitResult")]
public sealed record PrefixCacheHitResult([property: Id(0)] long SequenceId, [property: Id(1)] int Tokens);

/// <summary>A sequence whose sampling failed in a step, with the rank's message.</summary>
[GenerateSerializer, Immutable, Alias("l4c.SequenceFailureResult")]
public sealed record SequenceFailureResult([property: Id(0)] long SequenceId, [property: Id(1)] string Error);

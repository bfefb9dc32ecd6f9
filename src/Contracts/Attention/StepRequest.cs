using System.Collections.Immutable;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>One engine step for one attention rank: a ragged batch of sequences, each with its new tokens.</summary>
[GenerateSerializer, Immutable, Alias("l4c.StepRequest")]
public sealed record StepRequest(
    [property: Id(0)] long Step,
    [property: Id(1)] ImmutableArray<SequenceStep> Sequences);

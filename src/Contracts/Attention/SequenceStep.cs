using System.Collections.Immutable;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>
/// One sequence's part of a step: a prefill chunk or one decode token.
/// </summary>
/// <param name="SequenceId">Caller-chosen id, unique on the rank while the sequence lives.</param>
/// <param name="Tokens">New tokens appended to the sequence's cache.</param>
/// <param name="Start">Set on a sequence's first step only: creates its cache and sampler. Tokens fed before
/// its first sample are its prompt (read by the repetition penalty), tokens fed after are generated ones.</param>
/// <param name="Sample">Sample a next token from the last position after this step.</param>
/// <param name="ReturnLogits">Exactness tests only: return the fp32 logits of every position of this slice.
/// Full-vocabulary logits never cross the network in serving.</param>
[GenerateSerializer, Immutable, Alias("l4c.SequenceStep")]
public sealed record SequenceStep(
    [property: Id(0)] long SequenceId,
    [property: Id(1)] ImmutableArray<int> Tokens,
    [property: Id(2)] SequenceStart? Start,
    [property: Id(3)] bool Sample,
    [property: Id(4)] bool ReturnLogits = false);

using System.Collections.Immutable;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>A sampled token, with its raw-logit logprob and the top alternatives when asked (<paramref name="HasTopLogprobs"/>:
/// the sequence asked for them, so an empty list means none rather than not asked).</summary>
[GenerateSerializer, Immutable, Alias("l4c.SampledTokenResult")]
public sealed record SampledTokenResult(
    [property: Id(0)] long SequenceId,
    [property: Id(1)] int TokenId,
    [property: Id(2)] float? Logprob,
    [property: Id(3)] ImmutableArray<TokenLogprobResult> TopLogprobs,
    [property: Id(4)] bool HasTopLogprobs = false);

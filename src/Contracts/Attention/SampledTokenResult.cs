using System.Collections.Immutable;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>A sampled token, with its raw-logit logprob and the top alternatives when asked.</summary>
[GenerateSerializer, Immutable, Alias("l4c.SampledTokenResult")]
public sealed record SampledTokenResult(
    [property: Id(0)] long SequenceId,
    [property: Id(1)] int TokenId,
    [property: Id(2)] float? Logprob,
    [property: Id(3)] ImmutableArray<TokenLogprobResult> TopLogprobs);

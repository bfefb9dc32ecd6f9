namespace Llama4Cluster.Contracts.Attention;

[GenerateSerializer, Immutable, Alias("l4c.TokenLogprobResult")]
public readonly record struct TokenLogprobResult([property: Id(0)] int TokenId, [property: Id(1)] float Logprob);

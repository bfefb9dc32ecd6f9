namespace Llama4Cluster.Core.Sampling;

/// <summary>A token id and its log-probability (natural log) under the raw model distribution.</summary>
/// <param name="TokenId">Vocabulary index.</param>
/// <param name="Logprob">log_softmax of the raw model logits at <paramref name="TokenId"/>; &lt;= 0.</param>
public readonly record struct TokenLogprob(int TokenId, float Logprob);

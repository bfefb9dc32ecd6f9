namespace Llama4Cluster.Core.Sampling;

/// <summary>The result of one <see cref="Sampler.Sample"/> call.</summary>
/// <param name="TokenId">The chosen token.</param>
/// <param name="Logprob">The chosen token's log-probability under the raw model logits (before penalties and
/// temperature, vLLM's default); null when <see cref="SamplingParams.TopLogprobs"/> is null.</param>
/// <param name="TopLogprobs">The <see cref="SamplingParams.TopLogprobs"/> most probable tokens under the raw
/// logits, sorted by descending logprob (ties: lower id first); may or may not contain the chosen token. Empty
/// when <see cref="SamplingParams.TopLogprobs"/> is 0, null when it is null.</param>
public sealed record SampledToken(int TokenId, float? Logprob, IReadOnlyList<TokenLogprob>? TopLogprobs);

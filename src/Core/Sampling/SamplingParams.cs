namespace Llama4Cluster.Core.Sampling;

/// <summary>
/// Per-request decoding parameters, with vLLM's <c>SamplingParams</c> meanings and defaults except where a
/// property says otherwise. Immutable; call <see cref="Validate"/> (the <see cref="Sampler"/> constructor does)
/// before use. Parameters that pass <see cref="Validate"/> never make <see cref="Sampler.Sample"/> throw on finite logits.
/// </summary>
/// <remarks>
/// Processing order inside <see cref="Sampler.Sample"/>: penalties, then temperature, then top-k, then top-p,
/// then min-p, then one draw from the seeded generator. Greedy decoding (see <see cref="Temperature"/>) applies
/// the penalties and takes the argmax; top-k, top-p and min-p never change the argmax, so they are skipped.
/// </remarks>
public sealed record SamplingParams
{
    /// <summary>Largest <see cref="TopLogprobs"/> accepted; vLLM's default <c>max_logprobs</c>.</summary>
    public const int MaxTopLogprobs = 20;

    /// <summary>Bound of the presence and frequency penalties: both lie in [-2, 2], as in vLLM and OpenAI.</summary>
    public const float MaxAbsolutePresenceOrFrequencyPenalty = 2f;

    /// <summary>
    /// Temperatures below this are greedy decoding. vLLM's <c>_SAMPLING_EPS</c> (1e-5): dividing logits by a
    /// smaller value overflows fp32 or makes the distribution a numerically noisy argmax anyway.
    /// </summary>
    public const float GreedyTemperatureThreshold = 1e-5f;

    /// <summary>Softmax temperature; 0 (or anything below <see cref="GreedyTemperatureThreshold"/>) is greedy
    /// decoding: the argmax of the penalized logits, ties going to the lowest token id. Range: finite, &gt;= 0.</summary>
    public float Temperature { get; init; } = 0f;

    /// <summary>Nucleus sampling: keep the smallest set of most probable tokens whose cumulative probability is
    /// at least this (always at least one token). Range: (0, 1]; 1 disables it.</summary>
    public float TopP { get; init; } = 1f;

    /// <summary>Keep only the <c>TopK</c> highest logits (tokens tied with the k-th are all kept, as in vLLM).
    /// 0 or -1 disables it; values of at least the vocabulary size keep everything. Range: -1, 0, or &gt;= 1.</summary>
    public int TopK { get; init; } = 0;

    /// <summary>Drop tokens whose probability is below <c>MinP</c> times the most probable token's. Range: [0, 1];
    /// 0 disables it.</summary>
    public float MinP { get; init; } = 0f;

    /// <summary>Seed of the sampler's random generator: the same seed, parameters and logits give the same tokens.
    /// Null draws a random seed per <see cref="Sampler"/>.</summary>
    public long? Seed { get; init; }

    /// <summary>HF/vLLM repetition penalty over the prompt and the generated tokens: a seen token's logit is divided
    /// by it when positive and multiplied by it otherwise. 1 disables it. Range: finite, &gt; 0, as in vLLM: every positive
    /// float is accepted, subnormals included; extreme values saturate the penalized logits at ±<see cref="float.MaxValue"/>
    /// (<see cref="LogitPenalties"/>) rather than fail.</summary>
    public float RepetitionPenalty { get; init; } = 1f;

    /// <summary>OpenAI presence penalty: subtracted once from the logit of every token that occurs in the generated
    /// tokens (not the prompt). Range: [-2, 2].</summary>
    public float PresencePenalty { get; init; } = 0f;

    /// <summary>OpenAI frequency penalty: subtracted from a token's logit once per occurrence in the generated tokens
    /// (not the prompt). Range: [-2, 2].</summary>
    public float FrequencyPenalty { get; init; } = 0f;

    /// <summary>Token ids that end the sequence, in addition to the model's EOS ids; honoured even with
    /// <see cref="IgnoreEos"/>. Each id &gt;= 0.</summary>
    public IReadOnlyList<int> StopTokenIds { get; init; } = [];

    /// <summary>When true, the model's EOS ids do not end the sequence (benchmarking); <see cref="StopTokenIds"/> still do.</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Null returns no logprobs. Otherwise the chosen token's logprob plus this many most probable
    /// alternatives, from the raw model logits (vLLM's default <c>raw_logprobs</c> mode). Range: null or 0..20.</summary>
    public int? TopLogprobs { get; init; }

    /// <summary>Most tokens to generate; enforced by the caller (the scheduler), not by <see cref="Sampler"/>.
    /// Range: &gt;= 1.</summary>
    public int MaxTokens { get; init; } = 16;

    /// <summary>True when <see cref="Temperature"/> selects greedy decoding.</summary>
    public bool IsGreedy => Temperature < GreedyTemperatureThreshold;

    /// <summary>
    /// Checks every parameter against its range.
    /// </summary>
    /// <exception cref="ArgumentException">A parameter is out of range; the message names it, its allowed range and
    /// the value given, and <see cref="ArgumentException.ParamName"/> is the property name.</exception>
    public void Validate()
    {
        if (!float.IsFinite(Temperature) || Temperature < 0f)
        {
            throw Invalid(nameof(Temperature), $"must be a finite number >= 0 (0 selects greedy decoding); got {Temperature}.");
        }

        if (!(TopP > 0f && TopP <= 1f))
        {
            throw Invalid(nameof(TopP), $"must be in (0, 1] (1 disables nucleus sampling); got {TopP}.");
        }

        if (TopK < -1)
        {
            throw Invalid(nameof(TopK), $"must be -1 or 0 (disabled) or at least 1; got {TopK}.");
        }

        if (!(MinP >= 0f && MinP <= 1f))
        {
            throw Invalid(nameof(MinP), $"must be in [0, 1] (0 disables it); got {MinP}.");
        }

        if (!float.IsFinite(RepetitionPenalty) || RepetitionPenalty <= 0f)
        {
            throw Invalid(nameof(RepetitionPenalty), $"must be a finite number > 0 (1 disables it); got {RepetitionPenalty}.");
        }

        if (!(Math.Abs(PresencePenalty) <= MaxAbsolutePresenceOrFrequencyPenalty))
        {
            throw Invalid(nameof(PresencePenalty), $"must be in [-2, 2] (0 disables it); got {PresencePenalty}.");
        }

        if (!(Math.Abs(FrequencyPenalty) <= MaxAbsolutePresenceOrFrequencyPenalty))
        {
            throw Invalid(nameof(FrequencyPenalty), $"must be in [-2, 2] (0 disables it); got {FrequencyPenalty}.");
        }

        if (StopTokenIds is null)
        {
            throw Invalid(nameof(StopTokenIds), "must not be null; use an empty list for no stop tokens.");
        }

        for (var i = 0; i < StopTokenIds.Count; i++)
        {
            if (StopTokenIds[i] < 0)
            {
                throw Invalid(nameof(StopTokenIds), $"must hold token ids >= 0; got {StopTokenIds[i]} at index {i}.");
            }
        }

        if (TopLogprobs is { } n && (n < 0 || n > MaxTopLogprobs))
        {
            throw Invalid(nameof(TopLogprobs), $"must be null (no logprobs) or in 0..{MaxTopLogprobs}; got {n}.");
        }

        if (MaxTokens < 1)
        {
            throw Invalid(nameof(MaxTokens), $"must be at least 1; got {MaxTokens}.");
        }
    }

    private static ArgumentException Invalid(string name, string problem) => new($"{name} {problem}", name);
}

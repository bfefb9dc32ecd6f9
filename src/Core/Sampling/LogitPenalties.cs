namespace Llama4Cluster.Core.Sampling;

/// <summary>
/// vLLM's <c>apply_penalties</c> (vllm/model_executor/layers/utils.py) over one sequence, touching only the tokens
/// that occur in it, so the cost is O(prompt + generated) instead of O(vocabulary).
/// </summary>
/// <remarks>
/// For every token t that occurs in the prompt or in the generated tokens, in vLLM's order:
/// <list type="number">
/// <item>repetition (HF/vLLM): <c>logit = logit &gt; 0 ? logit / r : logit * r</c> (once per token, however often it occurs);</item>
/// <item>frequency (OpenAI): <c>logit -= f * count_generated(t)</c>;</item>
/// <item>presence (OpenAI): <c>logit -= p</c> if t occurs in the generated tokens.</item>
/// </list>
/// Frequency and presence ignore the prompt, as in vLLM and the OpenAI API.
/// <para>A penalized logit is clamped to the finite range [-<see cref="float.MaxValue"/>, <see cref="float.MaxValue"/>]:
/// every penalty in range keeps the logits finite (a repetition penalty of 1e-30 dividing a logit of 100, or of 1e30
/// multiplying -100, overflows fp32; vLLM's tensors would hold ±Infinity there, and a softmax over two of them is NaN).
/// The order of the logits is kept except among those that saturate, which tie.</para>
/// </remarks>
internal static class LogitPenalties
{
    /// <summary>True when <paramref name="parameters"/> change any logit.</summary>
    public static bool AnyActive(SamplingParams parameters) =>
        parameters.RepetitionPenalty != 1f || parameters.FrequencyPenalty != 0f || parameters.PresencePenalty != 0f;

    /// <summary>
    /// Applies the penalties to <paramref name="logits"/> in place.
    /// </summary>
    /// <param name="logits">Vocabulary-sized logits, modified in place.</param>
    /// <param name="promptTokens">The prompt's token ids (repetition penalty only).</param>
    /// <param name="generatedTokens">The tokens generated so far.</param>
    /// <param name="parameters">Penalty values.</param>
    /// <param name="counts">Scratch, at least vocabulary-sized, all zero on entry; all zero again on return.</param>
    /// <param name="seen">Scratch, at least vocabulary-sized, all zero on entry; all zero again on return.</param>
    /// <exception cref="ArgumentOutOfRangeException">A token id is outside [0, vocabulary size).</exception>
    public static void Apply(
        Span<float> logits,
        IReadOnlyList<int> promptTokens,
        IReadOnlyList<int> generatedTokens,
        SamplingParams parameters,
        Span<int> counts,
        Span<byte> seen)
    {
        var repetition = parameters.RepetitionPenalty;
        var frequency = parameters.FrequencyPenalty;
        var presence = parameters.PresencePenalty;

        // The prompt matters only to the repetition penalty.
        var usePrompt = repetition != 1f;

        // Validate every id before marking any, so that a bad id leaves the scratch clean.
        if (usePrompt)
        {
            CheckRange(promptTokens, logits.Length, nameof(promptTokens));
        }

        CheckRange(generatedTokens, logits.Length, nameof(generatedTokens));

        if (usePrompt)
        {
            for (var i = 0; i < promptTokens.Count; i++)
            {
                seen[promptTokens[i]] = 1;
            }
        }

        for (var i = 0; i < generatedTokens.Count; i++)
        {
            var t = generatedTokens[i];
            seen[t] = 1;
            counts[t]++;
        }

        // Second pass: penalize each marked token once, clearing its marks as we go (repeats then skip).
        if (usePrompt)
        {
            for (var i = 0; i < promptTokens.Count; i++)
            {
                PenalizeOnce(promptTokens[i], logits, counts, seen, repetition, frequency, presence);
            }
        }

        for (var i = 0; i < generatedTokens.Count; i++)
        {
            PenalizeOnce(generatedTokens[i], logits, counts, seen, repetition, frequency, presence);
        }
    }

    /// <summary>Penalizes token <paramref name="t"/> if it is still marked, then clears its marks.</summary>
    private static void PenalizeOnce(
        int t, Span<float> logits, Span<int> counts, Span<byte> seen, float repetition, float frequency, float presence)
    {
        if (seen[t] == 0)
        {
            return;
        }

        var x = logits[t];
        if (repetition != 1f)
        {
            x = x > 0f ? x / repetition : x * repetition;
        }

        var count = counts[t];
        if (count > 0)
        {
            x -= frequency * count;
            x -= presence;
        }

        logits[t] = Math.Clamp(x, -float.MaxValue, float.MaxValue);
        seen[t] = 0;
        counts[t] = 0;
    }

    private static void CheckRange(IReadOnlyList<int> tokens, int vocabularySize, string name)
    {
        for (var i = 0; i < tokens.Count; i++)
        {
            var t = tokens[i];
            if ((uint)t >= (uint)vocabularySize)
            {
                throw new ArgumentOutOfRangeException(
                    name,
                    t,
                    $"{name}[{i}] = {t} is not a token id of this vocabulary (0..{vocabularySize - 1}); the logits have {vocabularySize} entries.");
            }
        }
    }
}

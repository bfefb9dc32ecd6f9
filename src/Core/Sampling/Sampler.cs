using Llama4Cluster.Core.Guidance;

namespace Llama4Cluster.Core.Sampling;

/// <summary>
/// Chooses the next token of one sequence from the model's logits, following vLLM's sampler
/// (vllm/v1/sample/sampler.py) on the CPU over fp32 spans.
/// </summary>
/// <remarks>
/// <para>Pipeline per call, over the full vocabulary V (202,048 for Llama 4):</para>
/// <list type="number">
/// <item>Reject non-finite logits (NaN, ±Infinity) with an <see cref="ArgumentException"/> naming the first bad index:
/// they mean a numerical fault upstream, and softmax over them is undefined. Masking is not done with -Infinity here.</item>
/// <item>Penalties (<see cref="LogitPenalties"/>): repetition over prompt + generated, then frequency and presence over generated;
/// a penalized logit that would overflow fp32 is clamped to ±<see cref="float.MaxValue"/>, and so is one that the temperature
/// division overflows, so that no parameter in its range (<see cref="SamplingParams.Validate"/>) makes sampling throw.</item>
/// <item>Greedy (<see cref="SamplingParams.IsGreedy"/>): the argmax of the penalized logits, ties to the lowest id.</item>
/// <item>Otherwise: divide by the temperature; top-k (ties with the k-th logit are kept, as vLLM's
/// <c>logits &lt; kth_value</c> mask); softmax; top-p (the shortest prefix, by probability descending then id ascending,
/// whose mass reaches top_p; at least one token); min-p (drop p &lt; min_p * p_max); one inverse-CDF draw over the kept
/// tokens in id order from this sampler's generator. vLLM V0's order (top-k, top-p, then min-p) is used, as specified.</item>
/// <item>Logprobs, if asked: log_softmax of the raw logits (not the processed ones), the chosen token's value and the top N.</item>
/// </list>
/// <para>Guided decoding (a <see cref="GuidanceMatcher"/>): the grammar's allowed tokens, plus the stop tokens when the output
/// may end, restrict the choice exactly, as vLLM's grammar bitmask does before its sampler: greedy takes the argmax among
/// them, sampling gives the others weight 0 after the temperature (so top-k, top-p and min-p act among allowed tokens).</para>
/// <para>Cost: O(V) expected. Top-k and top-p use quickselect (<see cref="TokenSelection"/>), never a sort of V; penalties
/// cost O(prompt + generated). Scratch buffers are allocated on first use, sized to V and reused, so after the first call
/// a call allocates only its result (plus the logprob list when asked). Memory per sampler, at most: 4 bytes x V for the
/// working logits, 4 x V for the selection ids, 5 x V for the penalty counts and marks (about 2.6 MB for V = 202,048);
/// a greedy sampler without penalties needs none.</para>
/// <para>Not thread-safe: one sampler per sequence, called from one thread at a time. The random generator advances one draw
/// per non-greedy call, so a seeded sequence reproduces as long as the calls (and logits) repeat.</para>
/// </remarks>
public sealed class Sampler
{
    private readonly SamplingParams _parameters;
    private readonly HashSet<int> _stopTokenIds;
    private readonly SamplerRandom _random;
    private readonly bool _penalize;
    private readonly GuidanceMatcher? _guidance;

    private float[] _work = [];
    private int[] _ids = [];
    private int[] _counts = [];
    private byte[] _seen = [];
    private ulong[] _allowed = [];

    /// <summary>Creates a sampler for one sequence.</summary>
    /// <param name="parameters">Validated here (<see cref="SamplingParams.Validate"/>).</param>
    /// <param name="eosTokenIds">The model's end-of-sequence ids (Llama 4 has several, from generation_config.json).</param>
    /// <param name="guidance">The sequence's structured-output constraint, or null.</param>
    /// <exception cref="ArgumentException">A parameter is out of range, or guidance without any stop token to end on.</exception>
    public Sampler(SamplingParams parameters, IReadOnlyList<int> eosTokenIds, GuidanceMatcher? guidance = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(eosTokenIds);
        parameters.Validate();

        _parameters = parameters;
        _penalize = LogitPenalties.AnyActive(parameters);
        _stopTokenIds = [.. parameters.StopTokenIds];
        if (!parameters.IgnoreEos)
        {
            _stopTokenIds.UnionWith(eosTokenIds);
        }

        if (guidance is not null && _stopTokenIds.Count == 0)
        {
            throw new ArgumentException("Guided decoding needs a stop token to end the output on: ignore_eos leaves none (add stop_token_ids).", nameof(parameters));
        }

        _guidance = guidance;

        // Random.Shared is only the source of an unseeded request's seed; the draws come from our own generator.
        Seed = parameters.Seed ?? Random.Shared.NextInt64(long.MinValue, long.MaxValue);
        _random = new SamplerRandom(Seed);
    }

    /// <summary>The structured-output constraint, or null.</summary>
    public GuidanceMatcher? Guidance => _guidance;

    /// <summary>The parameters this sampler applies.</summary>
    public SamplingParams Parameters => _parameters;

    /// <summary>The generator's seed: <see cref="SamplingParams.Seed"/>, or the one drawn for an unseeded request (log it
    /// to reproduce a sequence).</summary>
    public long Seed { get; }

    /// <summary>
    /// Chooses the next token.
    /// </summary>
    /// <param name="logits">The model's fp32 logits for the last position, one per vocabulary entry.</param>
    /// <param name="promptTokens">The sequence's prompt token ids (read for the repetition penalty).</param>
    /// <param name="generatedTokens">The tokens generated so far (read for all penalties).</param>
    /// <returns>The token, with logprobs when <see cref="SamplingParams.TopLogprobs"/> is set.</returns>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is empty or holds NaN or ±Infinity.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A prompt or generated token id is outside [0, V) (checked when a penalty
    /// reads the tokens).</exception>
    public SampledToken Sample(ReadOnlySpan<float> logits, IReadOnlyList<int> promptTokens, IReadOnlyList<int> generatedTokens)
    {
        ArgumentNullException.ThrowIfNull(promptTokens);
        ArgumentNullException.ThrowIfNull(generatedTokens);
        var rawMax = CheckedMax(logits);

        var allowed = Allowed(generatedTokens, logits.Length);
        var processed = Process(logits, promptTokens, generatedTokens, allowed, out var greedy);
        var tokenId = greedy ? TokenMask.ArgMax(processed, allowed) : Draw(processed);

        if (_parameters.TopLogprobs is not { } n)
        {
            return new SampledToken(tokenId, null, null);
        }

        var logSumExp = RawLogprobs.LogSumExp(logits, rawMax);
        var chosen = (float)(logits[tokenId] - logSumExp);
        if (n == 0)
        {
            return new SampledToken(tokenId, chosen, []);
        }

        Span<int> topIds = stackalloc int[Math.Min(n, logits.Length)];
        RawLogprobs.TopN(logits, topIds);
        var top = new TokenLogprob[topIds.Length];
        for (var i = 0; i < top.Length; i++)
        {
            top[i] = new TokenLogprob(topIds[i], (float)(logits[topIds[i]] - logSumExp));
        }

        return new SampledToken(tokenId, chosen, top);
    }

    /// <summary>
    /// Advances the generator as if <paramref name="samples"/> tokens had been sampled (a sequence re-prefilled on another
    /// rank after a failover continues its seeded draws where it left off). Greedy sampling draws nothing.
    /// </summary>
    public void SkipSamples(int samples)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(samples);
        if (_parameters.IsGreedy) return;
        for (var i = 0; i < samples; i++) _random.NextDouble();
    }

    /// <summary>
    /// True when <paramref name="tokenId"/> ends the sequence: one of <see cref="SamplingParams.StopTokenIds"/>, or one of
    /// the EOS ids unless <see cref="SamplingParams.IgnoreEos"/>. (<see cref="SamplingParams.MaxTokens"/> is the caller's.)
    /// </summary>
    public bool IsStop(int tokenId) => _stopTokenIds.Contains(tokenId);

    /// <summary>
    /// The distribution <see cref="Sample"/> draws from for these inputs, normalized, without advancing the generator:
    /// one-hot at the argmax for greedy decoding. For tests and for callers that need the processed probabilities.
    /// </summary>
    internal void ComputeProbabilities(
        ReadOnlySpan<float> logits, IReadOnlyList<int> promptTokens, IReadOnlyList<int> generatedTokens, Span<float> probabilities)
    {
        if (probabilities.Length != logits.Length)
        {
            throw new ArgumentException("Must have one entry per logit.", nameof(probabilities));
        }

        CheckedMax(logits);
        var allowed = Allowed(generatedTokens, logits.Length);
        var processed = Process(logits, promptTokens, generatedTokens, allowed, out var greedy);
        probabilities.Clear();
        if (greedy)
        {
            probabilities[TokenMask.ArgMax(processed, allowed)] = 1f;
            return;
        }

        var total = VectorMath.Sum(processed);
        for (var i = 0; i < processed.Length; i++)
        {
            probabilities[i] = (float)(processed[i] / total);
        }
    }

    /// <summary>
    /// Penalties, then (non-greedy) temperature, top-k, softmax numerators, top-p and min-p. Returns the penalized logits
    /// for greedy decoding (the input itself when no penalty applies), else unnormalized probabilities whose maximum is
    /// exp(0) (zero for dropped tokens).
    /// </summary>
    private ReadOnlySpan<float> Process(
        ReadOnlySpan<float> logits, IReadOnlyList<int> promptTokens, IReadOnlyList<int> generatedTokens, ReadOnlySpan<ulong> allowed,
        out bool greedy)
    {
        var vocabularySize = logits.Length;
        greedy = _parameters.IsGreedy;
        if (!_penalize && greedy)
        {
            return logits;
        }

        var work = Rent(ref _work, vocabularySize);
        logits.CopyTo(work);
        if (_penalize)
        {
            LogitPenalties.Apply(
                work, promptTokens, generatedTokens, _parameters, Rent(ref _counts, vocabularySize), Rent(ref _seen, vocabularySize));
        }

        if (greedy)
        {
            return work;
        }

        // Temperature: a division, like vLLM's logits.div_(temperature).
        var temperature = _parameters.Temperature;
        for (var i = 0; i < work.Length; i++)
        {
            work[i] /= temperature;
        }

        // Top-k never drops the maximum, so take it before masking. A finite logit divided by a temperature below 1
        // can overflow to ±Infinity (never NaN: both are finite and the temperature positive): clamp, as the penalties do.
        var max = VectorMath.MaxOrFirstNonFinite(work, out var overflow);
        if (overflow >= 0)
        {
            VectorMath.ClampToFinite(work[overflow..]);
            max = VectorMath.MaxOrFirstNonFinite(work, out _);
        }

        if (!allowed.IsEmpty)
        {
            max = TokenMask.Restrict(work, allowed);
        }

        MaskTopK(work);

        // Softmax numerators; the max becomes exp(0) (see VectorMath.ExpOfZero), and top-k's -Infinity becomes 0.
        VectorMath.ExpShifted(work, max);

        MaskTopP(work);
        MaskMinP(work);

        return work;
    }

    /// <summary>Top-k: logits below the k-th largest become -Infinity (ties with it stay).</summary>
    private void MaskTopK(Span<float> work)
    {
        var vocabularySize = work.Length;
        var topK = _parameters.TopK;
        if (topK > 0 && topK < vocabularySize)
        {
            var ids = Rent(ref _ids, vocabularySize);
            for (var i = 0; i < ids.Length; i++)
            {
                ids[i] = i;
            }

            var kthValue = work[TokenSelection.SelectKth(ids, work, topK)];
            for (var i = 0; i < work.Length; i++)
            {
                if (work[i] < kthValue)
                {
                    work[i] = float.NegativeInfinity;
                }
            }
        }
    }

    /// <summary>Top-p on softmax numerators: weights outside the shortest prefix (by weight, then id) that
    /// reaches top_p of the mass become 0.</summary>
    private void MaskTopP(Span<float> work)
    {
        var vocabularySize = work.Length;
        var topP = _parameters.TopP;
        if (topP < 1f)
        {
            // Only tokens with positive mass can belong to the shortest prefix that reaches top_p.
            var ids = Rent(ref _ids, vocabularySize);
            var count = 0;
            var total = 0.0;
            for (var i = 0; i < work.Length; i++)
            {
                if (work[i] > 0f)
                {
                    ids[count++] = i;
                    total += work[i];
                }
            }

            var boundary = TokenSelection.SelectNucleus(ids[..count], work, topP * total);
            var boundaryWeight = work[boundary];
            for (var i = 0; i < work.Length; i++)
            {
                var w = work[i];
                if (w < boundaryWeight || (w == boundaryWeight && i > boundary))
                {
                    work[i] = 0f;
                }
            }
        }
    }

    /// <summary>Min-p on softmax numerators (see the comment inside for why no normalization is needed).</summary>
    private void MaskMinP(Span<float> work)
    {
        // p_i < min_p * p_max  <=>  w_i < min_p * w_max: renormalization cancels out, and the most probable token's
        // weight is exp(0) (top-k and top-p always keep it).
        var minP = _parameters.MinP;
        if (minP > 0f)
        {
            var threshold = minP * VectorMath.ExpOfZero;
            for (var i = 0; i < work.Length; i++)
            {
                if (work[i] < threshold)
                {
                    work[i] = 0f;
                }
            }
        }
    }

    /// <summary>Inverse-CDF draw: the first token, in id order, whose cumulative weight exceeds u * total.</summary>
    private int Draw(ReadOnlySpan<float> weights)
    {
        var total = VectorMath.Sum(weights);
        var threshold = _random.NextDouble() * total;
        var cumulative = 0.0;
        var last = -1;
        for (var i = 0; i < weights.Length; i++)
        {
            var w = weights[i];
            if (w > 0f)
            {
                cumulative += w;
                last = i;
                if (cumulative > threshold)
                {
                    return i;
                }
            }
        }

        // Only reachable when u * total rounds up to total: the last kept token.
        return last;
    }

    /// <summary>The maximum, after checking that every logit is finite.</summary>
    private static float CheckedMax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty)
        {
            throw new ArgumentException("The logits are empty; pass one logit per vocabulary entry.", nameof(logits));
        }

        var max = VectorMath.MaxOrFirstNonFinite(logits, out var bad);
        if (bad >= 0)
        {
            throw new ArgumentException(
                $"logits[{bad}] is {logits[bad]}; sampling needs finite logits. NaN or Infinity here points to a numerical " +
                "fault upstream (for example fp16/bf16 overflow in the final norm or lm_head).",
                nameof(logits));
        }

        return max;
    }

    /// <summary>The guided step's allowed tokens (empty span when unguided).</summary>
    private ReadOnlySpan<ulong> Allowed(IReadOnlyList<int> generatedTokens, int vocabularySize)
    {
        if (_guidance is null)
        {
            return default;
        }

        var allowed = Rent(ref _allowed, (vocabularySize + 63) >> 6);
        TokenMask.Build(_guidance, generatedTokens, _stopTokenIds, vocabularySize, allowed);
        return allowed;
    }

    /// <summary>The buffer, reallocated only when the vocabulary size changes.</summary>
    private static Span<T> Rent<T>(ref T[] buffer, int length)
    {
        if (buffer.Length != length)
        {
            buffer = new T[length];
        }

        return buffer;
    }
}

using Llama4Cluster.Core.Guidance;

namespace Llama4Cluster.Core.Sampling;

/// <summary>
/// The sampler's side of guided decoding: the allowed-token bitmask of one step (64 ids a word) and the passes that
/// restrict logits to it, and the plain argmax the unguided path uses.
/// </summary>
internal static class TokenMask
{
    /// <summary>
    /// Fills <paramref name="allowed"/> for a vocabulary of <paramref name="vocabularySize"/> ids: the grammar's text tokens
    /// after <paramref name="generated"/>, plus <paramref name="stopTokenIds"/> when the output may end here (when it is
    /// complete, only those).
    /// </summary>
    /// <exception cref="InvalidOperationException">No token is allowed (the constraint cannot continue in this vocabulary).</exception>
    public static void Build(GuidanceMatcher guidance, IReadOnlyList<int> generated, IEnumerable<int> stopTokenIds, int vocabularySize,
        Span<ulong> allowed)
    {
        guidance.Sync(generated);
        allowed.Clear();
        var text = guidance.AllowedTokens();
        text[..Math.Min(text.Length, allowed.Length)].CopyTo(allowed);
        if ((vocabularySize & 63) != 0)
        {
            allowed[^1] &= (1UL << (vocabularySize & 63)) - 1;
        }

        if (guidance.CanStop)
        {
            foreach (var stop in stopTokenIds)
            {
                if (stop < vocabularySize)
                {
                    allowed[stop >> 6] |= 1UL << stop;
                }
            }
        }

        foreach (var word in allowed)
        {
            if (word != 0)
            {
                return;
            }
        }

        throw new InvalidOperationException(
            $"guided decoding: no token of the vocabulary can continue the output after {generated.Count} tokens " +
            "(the constraint needs text this tokenizer cannot spell, or a stop token the request excluded).");
    }

    public static bool IsAllowed(ReadOnlySpan<ulong> allowed, int id) => (allowed[id >> 6] & (1UL << id)) != 0;

    /// <summary>Index of the largest value; the lowest index among equals. With a mask, among allowed ids only.</summary>
    public static int ArgMax(ReadOnlySpan<float> values, ReadOnlySpan<ulong> allowed)
    {
        var best = -1;
        var bestValue = float.NegativeInfinity;
        if (allowed.IsEmpty)
        {
            best = 0;
            bestValue = values[0];
            for (var i = 1; i < values.Length; i++)
            {
                if (values[i] > bestValue)
                {
                    bestValue = values[i];
                    best = i;
                }
            }

            return best;
        }

        // Word by word: whole words of allowed ids (inside strings, most of them) scan like the unmasked loop.
        for (var w = 0; w < allowed.Length; w++)
        {
            var start = w << 6;
            var count = Math.Min(64, values.Length - start);
            if (count <= 0)
            {
                break;
            }

            var bits = allowed[w];
            if (count < 64)
            {
                bits &= (1UL << count) - 1;
            }

            if (bits == ulong.MaxValue)
            {
                for (var i = start; i < start + 64; i++)
                {
                    if (best < 0 || values[i] > bestValue)
                    {
                        bestValue = values[i];
                        best = i;
                    }
                }

                continue;
            }

            for (; bits != 0; bits &= bits - 1)
            {
                var i = start + System.Numerics.BitOperations.TrailingZeroCount(bits);
                if (best < 0 || values[i] > bestValue)
                {
                    bestValue = values[i];
                    best = i;
                }
            }
        }

        return best;
    }

    /// <summary>Sets every disallowed entry to -Infinity (its softmax weight becomes 0) and returns the largest allowed
    /// value.</summary>
    public static float Restrict(Span<float> work, ReadOnlySpan<ulong> allowed)
    {
        var max = float.NegativeInfinity;
        for (var w = 0; w < allowed.Length; w++)
        {
            var start = w << 6;
            var count = Math.Min(64, work.Length - start);
            if (count <= 0)
            {
                break;
            }

            var bits = allowed[w];
            var slice = work.Slice(start, count);
            if (bits == 0)
            {
                slice.Fill(float.NegativeInfinity);
                continue;
            }

            for (var refused = ~bits & (count < 64 ? (1UL << count) - 1 : ulong.MaxValue); refused != 0; refused &= refused - 1)
            {
                slice[System.Numerics.BitOperations.TrailingZeroCount(refused)] = float.NegativeInfinity;
            }

            for (; bits != 0; bits &= bits - 1)
            {
                var j = System.Numerics.BitOperations.TrailingZeroCount(bits);
                if (j < count && slice[j] > max)
                {
                    max = slice[j];
                }
            }
        }

        return max;
    }
}

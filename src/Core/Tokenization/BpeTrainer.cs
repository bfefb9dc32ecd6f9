namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// Deterministic byte-level BPE training for test tokenizers: pre-tokenise with the Llama 4 regex, start from the
/// 256 single bytes (rank = byte value), and repeatedly merge the most frequent adjacent pair (ties: lowest left id,
/// then lowest right id).
/// </summary>
internal static class BpeTrainer
{
    /// <summary>Token bytes by rank: the 256 single bytes, then <paramref name="mergeCount"/> learned tokens.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The sample cannot yield that many distinct tokens.</exception>
    public static List<byte[]> Train(string sample, int mergeCount)
    {
        var tokens = new List<byte[]>(256 + mergeCount);
        var idByKey = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var b = 0; b < 256; b++)
        {
            tokens.Add([(byte)b]);
            idByKey[BytePairEncoder.ToKey([(byte)b])] = b;
        }

        var frequencies = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var piece in Llama4PreTokenizer.Split(sample))
        {
            frequencies[piece] = frequencies.GetValueOrDefault(piece) + 1;
        }

        // Sorted so the pair counts do not depend on dictionary order (they would not anyway; this keeps it obvious).
        var words = frequencies.OrderBy(kv => kv.Key, StringComparer.Ordinal)
            .Select(kv => (Symbols: System.Text.Encoding.UTF8.GetBytes(kv.Key).Select(b => (int)b).ToList(), Count: kv.Value))
            .ToList();

        while (tokens.Count < 256 + mergeCount)
        {
            var pairCounts = new Dictionary<(int Left, int Right), long>();
            foreach (var (symbols, count) in words)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    var pair = (symbols[i], symbols[i + 1]);
                    pairCounts[pair] = pairCounts.GetValueOrDefault(pair) + count;
                }
            }

            if (pairCounts.Count == 0)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(mergeCount), mergeCount,
                    $"The sample text yields only {tokens.Count - 256} merged tokens; ask for a smaller vocabulary.");
            }

            var best = pairCounts.MaxBy(kv => (kv.Value, -kv.Key.Left, -kv.Key.Right)).Key;
            var merged = tokens[best.Left].Concat(tokens[best.Right]).ToArray();
            var key = BytePairEncoder.ToKey(merged);
            if (!idByKey.TryGetValue(key, out var mergedId))
            {
                // A byte string reachable by two different splits is one token (tiktoken ranks are unique).
                mergedId = tokens.Count;
                tokens.Add(merged);
                idByKey[key] = mergedId;
            }

            foreach (var (symbols, _) in words)
            {
                for (var i = 0; i + 1 < symbols.Count; i++)
                {
                    if (symbols[i] == best.Left && symbols[i + 1] == best.Right)
                    {
                        symbols[i] = mergedId;
                        symbols.RemoveAt(i + 1);
                    }
                }
            }
        }

        return tokens;
    }
}

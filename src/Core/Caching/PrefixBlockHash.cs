namespace Llama4Cluster.Core.Caching;

/// <summary>
/// The one hash of token prefixes that the attention ranks' prefix cache and the scheduler's cache-aware routing share:
/// a prefix is cut into blocks of <c>blockSize</c> tokens, and block j's hash chains block j − 1's hash with block j's
/// tokens, so equal hashes name equal prefixes (up to collisions, which the rank rules out by comparing the block's
/// tokens). Deterministic across processes (never <see cref="HashCode"/>, which is seeded per process): a gateway and
/// its ranks may live in different processes.
/// </summary>
public static class PrefixBlockHash
{
    /// <summary>The parent of the first block (the empty prefix).</summary>
    public const ulong Root = 0xcbf29ce484222325;

    /// <summary>The hash of the block <paramref name="tokens"/> following the prefix whose hash is <paramref name="parent"/>.</summary>
    public static ulong Next(ulong parent, ReadOnlySpan<int> tokens)
    {
        ulong h = Mix(parent ^ 0x9E3779B97F4A7C15UL);
        foreach (int t in tokens) h = Mix(h + (uint)t + 0x9E3779B97F4A7C15UL);
        return Mix(h ^ (ulong)tokens.Length);
    }

    /// <summary>
    /// The block size in effect for a model and a setting: the setting, or, when the model has chunked-attention layers and
    /// the setting does not divide <c>attention_chunk_size</c>, the largest divisor of the chunk size below it, so no block
    /// straddles a chunk boundary (16 for Scout's 8192; 4 for a chunk of 4). Ranks and routing both use it.
    /// </summary>
    public static int BlockSizeFor(Config.Llama4TextConfig config, int setting)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfLessThan(setting, 1);
        bool chunked = Enumerable.Range(0, config.NumHiddenLayers).Any(config.IsRopeLayer);
        if (!chunked || config.AttentionChunkSize is not { } chunk) return setting;
        for (int b = Math.Min(setting, chunk); b > 1; b--) // chunk sizes are powers of two or tiny: a short loop
            if (chunk % b == 0) return b;
        return 1;
    }

    /// <summary>The chained hashes of every full block of <paramref name="tokens"/>, in order (a partial last block has none).</summary>
    public static ulong[] Chain(ReadOnlySpan<int> tokens, int blockSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        var hashes = new ulong[tokens.Length / blockSize];
        ulong h = Root;
        for (int j = 0; j < hashes.Length; j++)
            hashes[j] = h = Next(h, tokens.Slice(j * blockSize, blockSize));
        return hashes;
    }

    // SplitMix64's finalizer (Steele, Lea, Flood, OOPSLA '14): every input bit flips about half the output bits.
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

using Llama4Cluster.Core.Caching;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// One sequence's side of its rank's <see cref="PrefixCache"/>: every token its <see cref="KvCache"/> has taken, the hash
/// chain of its whole blocks, and a reference on each of those blocks. When a block completes (the cache's
/// <see cref="KvCache.Advanced"/> hook, while its rows are still live) it is found in the cache and held, or copied into
/// it. <see cref="Restore"/> appends cached rows instead of computing them. The owner announces the tokens of every
/// forward pass before it runs (<see cref="Expect"/>). Dispose releases the held blocks, deepest first.
/// </summary>
public sealed class SequencePrefix : IDisposable
{
    private readonly PrefixCache _cache;
    private readonly KvCache _kv;
    private readonly List<int> _tokens = new();   // every token the cache has taken, by position
    private readonly List<int> _expected = new(); // tokens of the advance to come
    private readonly List<PrefixBlock> _held = new(); // blocks 0 … n−1 of the chain
    private ulong _hash = PrefixBlockHash.Root;   // the chain's last hash
    private bool _broken; // a block could not be cached: later blocks would be unreachable, so none are

    public SequencePrefix(PrefixCache cache, KvCache kv)
    {
        ArgumentNullException.ThrowIfNull(cache);
        ArgumentNullException.ThrowIfNull(kv);
        if (kv.Length != 0) throw new ArgumentException("a sequence's prefix starts with an empty cache", nameof(kv));
        _cache = cache;
        _kv = kv;
        kv.Advanced = OnAdvanced;
    }

    /// <summary>Blocks held.</summary>
    public int Blocks => _held.Count;

    /// <summary>The tokens of the next advance of the cache (a forward pass's slice).</summary>
    public void Expect(ReadOnlySpan<int> tokens)
    {
        foreach (int t in tokens) _expected.Add(t);
    }

    /// <summary>
    /// Appends to the cache the cached rows of the leading tokens of <paramref name="tokens"/> (the next tokens of the
    /// sequence), at most <paramref name="maxTokens"/>, block by block while the blocks are cached; returns how many. A
    /// block partly fed already (a prompt chunk that ended mid-block) is completed from its cached rows.
    /// </summary>
    public int Restore(ReadOnlySpan<int> tokens, int maxTokens)
    {
        int restored = 0;
        if (maxTokens <= 0 || _broken) return 0;
        int b = _cache.BlockSize;
        var block = new int[b];
        while (restored < maxTokens && !_broken)
        {
            int position = _kv.Length, offset = position % b, need = b - offset;
            if (_held.Count != position / b || tokens.Length - restored < need) break;
            _tokens.CopyTo(position - offset, block, 0, offset);
            tokens.Slice(restored, need).CopyTo(block.AsSpan(offset));
            if (_cache.Find(PrefixBlockHash.Next(_hash, block), block) is not { } cached) break;
            int take = Math.Min(need, maxTokens - restored);
            Expect(tokens.Slice(restored, take));
            _kv.AppendRows(cached.Rows, offset, take);
            restored += take;
        }

        _cache.RestoredTokens += restored;
        return restored;
    }

    private void OnAdvanced(KvCache kv, int before)
    {
        int n = kv.Length - before;
        if (n > _expected.Count) throw new InvalidOperationException($"the cache advanced by {n} tokens; {_expected.Count} were announced");
        _tokens.AddRange(_expected.GetRange(0, n));
        _expected.RemoveRange(0, n);
        int b = _cache.BlockSize;
        while (!_broken && _tokens.Count >= (_held.Count + 1) * b)
        {
            int position = _held.Count * b;
            var tokens = _tokens.GetRange(position, b).ToArray();
            ulong hash = PrefixBlockHash.Next(_hash, tokens);
            var block = _cache.Find(hash, tokens);
            if (block is not null) _cache.Acquire(block);
            else block = _cache.Add(hash, tokens, kv, position);
            if (block is null)
            {
                _broken = true;
                break;
            }

            _held.Add(block);
            _hash = hash;
        }
    }

    public void Dispose()
    {
        _kv.Advanced = null;
        for (int j = _held.Count - 1; j >= 0; j--) _cache.Release(_held[j]);
        _held.Clear();
    }
}

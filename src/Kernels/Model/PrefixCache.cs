using Llama4Cluster.Core.Config;
using TorchSharp;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// An attention rank's prefix cache (vLLM's automatic prefix caching, SGLang's radix cache, at block granularity): the
/// KV of whole blocks of token prefixes, keyed by <see cref="Core.Caching.PrefixBlockHash"/>, so a sequence whose tokens
/// start with cached blocks restores their keys and values instead of computing them (<see cref="SequencePrefix"/>).
/// <para>Exact: a block's k and v depend only on the tokens up to it and their absolute positions, which its chained hash
/// fixes; restored rows are appended to the sequence's own <see cref="KvCache"/>, whose chunked layers then drop what no
/// later query can see exactly as after computing them, and NoPE layers' temperature scales only queries (computed, at
/// their true positions). Blocks must not straddle a chunk boundary (the block size in effect divides <c>attention_chunk_size</c>),
/// so a block's rows are all still live in a chunked layer when it completes and is copied in.</para>
/// <para>Sharing rule (in place of copy-on-write): a cached block is immutable and never part of a sequence's cache —
/// a hit copies its rows into the sequence's own contiguous cache (what the decode kernels stream), a memory copy instead
/// of a forward pass. Reference counts keep the blocks of running sequences from eviction; unreferenced blocks are
/// evicted least recently released first (a sequence releases its deepest block first, so a prompt's tail goes before its
/// shared head) to stay under <see cref="PrefixCacheOptions.MaxBytes"/>. Not thread-safe: the rank's one step at a time.</para>
/// </summary>
public sealed class PrefixCache : IDisposable
{
    private readonly Dictionary<ulong, PrefixBlock> _blocks = new();
    private readonly LinkedList<PrefixBlock> _unreferenced = new(); // least recently released first
    private readonly long _maxBytes;

    public PrefixCache(Llama4TextConfig config, PrefixCacheOptions options, torch.ScalarType dtype)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        if (options.BlockSize < 1)
            throw new ArgumentException($"the prefix cache's block size must be at least 1 token; got {options.BlockSize}", nameof(options));
        BlockSize = Core.Caching.PrefixBlockHash.BlockSizeFor(config, options.BlockSize);
        if (options.MaxBytes < 0) throw new ArgumentException($"the prefix cache's byte budget must not be negative; got {options.MaxBytes}", nameof(options));
        _maxBytes = options.MaxBytes;
        int element = dtype == torch.ScalarType.Float32 ? 4 : 2;
        BlockBytes = (long)config.NumHiddenLayers * 2 * BlockSize * config.NumKeyValueHeads * config.HeadDim * element;
    }

    /// <summary>Tokens per block in effect: <see cref="PrefixCacheOptions.BlockSize"/>, or the largest divisor of the
    /// model's <c>attention_chunk_size</c> below it when it does not divide it (16 for Scout's 8192; 4 for a chunk of 4).</summary>
    public int BlockSize { get; }

    /// <summary>Bytes one block holds (every layer's k and v for <see cref="BlockSize"/> tokens).</summary>
    public long BlockBytes { get; }

    public int Blocks => _blocks.Count;

    public long Bytes => _blocks.Count * BlockBytes;

    /// <summary>Blocks some sequence holds (not evictable).</summary>
    public int ReferencedBlocks => _blocks.Count - _unreferenced.Count;

    /// <summary>Tokens sequences restored from the cache instead of computing them, since start.</summary>
    public long RestoredTokens { get; internal set; }

    /// <summary>Blocks evicted to make room, since start.</summary>
    public long Evictions { get; private set; }

    /// <summary>The cached block of <paramref name="hash"/> if its tokens are <paramref name="tokens"/> (a hash collision
    /// is a miss), else null.</summary>
    public PrefixBlock? Find(ulong hash, ReadOnlySpan<int> tokens) =>
        _blocks.TryGetValue(hash, out var b) && tokens.SequenceEqual(((int[])b.Tokens).AsSpan()) ? b : null;

    /// <summary>
    /// Caches the block of <paramref name="tokens"/> at position <paramref name="position"/> of <paramref name="source"/>
    /// (whose rows there must be live) with one reference, the caller's; evicts unreferenced blocks as needed. Null when
    /// the budget is held by referenced blocks, or the hash is another block's.
    /// </summary>
    public PrefixBlock? Add(ulong hash, int[] tokens, KvCache source, int position)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        ArgumentNullException.ThrowIfNull(source);
        if (tokens.Length != BlockSize) throw new ArgumentException($"a block has {BlockSize} tokens; got {tokens.Length}", nameof(tokens));
        if (_blocks.ContainsKey(hash)) return null; // another block with this hash (a collision): this one stays uncached
        while (Bytes + BlockBytes > _maxBytes)
        {
            if (_unreferenced.First is not { } oldest) return null;
            Remove(oldest.Value);
            Evictions++;
        }

        var block = new PrefixBlock(hash, tokens, source.CopyRows(position, BlockSize)) { References = 1 };
        _blocks.Add(hash, block);
        return block;
    }

    /// <summary>One more sequence holds <paramref name="block"/>: it cannot be evicted.</summary>
    public void Acquire(PrefixBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (block.References++ == 0) _unreferenced.Remove(block.Node);
    }

    /// <summary>A sequence lets go of <paramref name="block"/>; at no references it becomes the most recent to evict.</summary>
    public void Release(PrefixBlock block)
    {
        ArgumentNullException.ThrowIfNull(block);
        if (block.References <= 0) throw new InvalidOperationException($"block {block.Hash:x16} released more often than held");
        if (--block.References == 0 && _blocks.ContainsKey(block.Hash)) _unreferenced.AddLast(block.Node);
    }

    public void Dispose()
    {
        foreach (var b in _blocks.Values) b.Rows.Dispose();
        _blocks.Clear();
        _unreferenced.Clear();
    }

    private void Remove(PrefixBlock block)
    {
        _unreferenced.Remove(block.Node);
        _blocks.Remove(block.Hash);
        block.Rows.Dispose();
    }
}

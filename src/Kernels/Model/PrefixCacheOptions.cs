namespace Llama4Cluster.Kernels.Model;

/// <summary>Settings of an attention rank's <see cref="PrefixCache"/>.</summary>
public sealed record PrefixCacheOptions
{
    /// <summary>The defaults: on, blocks of 16 tokens, 1 GiB.</summary>
    public static PrefixCacheOptions Default { get; } = new();

    /// <summary>No prefix cache: every token is computed.</summary>
    public static PrefixCacheOptions Disabled { get; } = new() { Enabled = false };

    public bool Enabled { get; init; } = true;

    /// <summary>Tokens per cached block: only whole blocks are cached and matched. When it does not divide the model's
    /// <c>attention_chunk_size</c> the largest divisor below it is used (a block never straddles a chunk boundary; see
    /// <see cref="PrefixCache.BlockSize"/>).</summary>
    public int BlockSize { get; init; } = 16;

    /// <summary>Bytes of KV the cache may keep beside the running sequences' own caches; unreferenced blocks are evicted
    /// least recently used first to stay under it.</summary>
    public long MaxBytes { get; init; } = 1L << 30;
}

using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// One cached block of a <see cref="PrefixCache"/>: the keys and values of <see cref="Tokens"/> at absolute positions
/// <c>j·B … j·B + B − 1</c> after the prefix its hash chains (so the same block content at another position is another
/// block), in every layer, and how many sequences hold it. Immutable once cached: no sequence writes into it.
/// </summary>
public sealed class PrefixBlock
{
    internal PrefixBlock(ulong hash, int[] tokens, Tensor rows)
    {
        Hash = hash;
        Tokens = tokens;
        Rows = rows;
        Node = new LinkedListNode<PrefixBlock>(this);
    }

    public ulong Hash { get; }

    public IReadOnlyList<int> Tokens { get; }

    /// <summary><c>[layers, 2, B, KV, hd]</c>: per layer, k (after RoPE and QK norm) then v, in the cache dtype.</summary>
    internal Tensor Rows { get; }

    /// <summary>Sequences holding the block (reading it, or having written it); evictable at 0 only.</summary>
    public int References { get; internal set; }

    /// <summary>Its place in the cache's least-recently-used list while unreferenced.</summary>
    internal LinkedListNode<PrefixBlock> Node { get; }
}

using Llama4Cluster.Core.Caching;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// The scheduler's approximate picture of what each attention rank's prefix cache holds: the block hashes
/// (<see cref="PrefixBlockHash"/>) of the token prefixes it has sent to each rank, at most
/// <see cref="SchedulerOptions.PrefixRoutingBlocksPerRank"/> per rank, least recently sent forgotten first. It cannot see
/// the ranks' memory (a rank may have evicted a block, or may hold blocks of generated tokens this index never saw), so it
/// only steers placement: a wrong guess costs a prefill, never a wrong token. Owned by the step loop (not thread-safe).
/// </summary>
internal sealed class PrefixRouteIndex
{
    private readonly Dictionary<ulong, LinkedListNode<ulong>>[] _ranks;
    private readonly LinkedList<ulong>[] _order; // per rank, least recently sent first
    private readonly int _capacity;

    public PrefixRouteIndex(int ranks, int blockSize, int blocksPerRank)
    {
        BlockSize = blockSize;
        _capacity = blocksPerRank;
        _ranks = new Dictionary<ulong, LinkedListNode<ulong>>[ranks];
        _order = new LinkedList<ulong>[ranks];
        for (int r = 0; r < ranks; r++)
        {
            _ranks[r] = new Dictionary<ulong, LinkedListNode<ulong>>();
            _order[r] = new LinkedList<ulong>();
        }
    }

    public int BlockSize { get; }

    /// <summary>Blocks remembered for <paramref name="rank"/>.</summary>
    public int Count(int rank) => _ranks[rank].Count;

    /// <summary>How many leading blocks of <paramref name="chain"/> the rank was sent.</summary>
    public int Matched(int rank, IReadOnlyList<ulong> chain)
    {
        var known = _ranks[rank];
        int n = 0;
        while (n < chain.Count && known.ContainsKey(chain[n])) n++;
        return n;
    }

    /// <summary>Remembers that <paramref name="rank"/> was sent the prefix <paramref name="chain"/> (now its most recent).</summary>
    public void Record(int rank, IReadOnlyList<ulong> chain)
    {
        var known = _ranks[rank];
        var order = _order[rank];
        // Deepest block first, so a prefix's root is the most recent and the tail of a long prompt is forgotten first.
        for (int j = chain.Count - 1; j >= 0; j--)
        {
            if (known.TryGetValue(chain[j], out var node)) order.Remove(node);
            else known[chain[j]] = node = new LinkedListNode<ulong>(chain[j]);
            order.AddLast(node);
        }

        while (known.Count > _capacity)
        {
            known.Remove(order.First!.Value);
            order.RemoveFirst();
        }
    }

    /// <summary>Forgets everything sent to <paramref name="rank"/> (it failed: it may come back empty).</summary>
    public void Forget(int rank)
    {
        _ranks[rank].Clear();
        _order[rank].Clear();
    }
}

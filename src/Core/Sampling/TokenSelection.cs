namespace Llama4Cluster.Core.Sampling;

/// <summary>
/// Linear-time (expected) selection over token ids, so top-k and top-p never sort the whole vocabulary.
/// </summary>
/// <remarks>
/// Both methods order tokens by a strict total order: higher key first, and on equal keys the lower id first.
/// The order has no ties, so results are deterministic and quickselect cannot degrade on runs of equal keys
/// (a vocabulary of mostly identical tiny probabilities is common). Pivots are the median of three, which keeps
/// already-ordered input (ids ascending, keys descending) linear. Both permute <c>ids</c> in place and allocate
/// nothing.
/// </remarks>
internal static class TokenSelection
{
    /// <summary>
    /// Returns the id that is k-th (1-based) in the order among <paramref name="ids"/> by <paramref name="keys"/>.
    /// Afterwards <c>ids[..k]</c> holds the first k ids (unordered).
    /// </summary>
    /// <param name="ids">Distinct token ids, indices into <paramref name="keys"/>; permuted.</param>
    /// <param name="keys">Key per token id (vocabulary-sized).</param>
    /// <param name="k">1 &lt;= k &lt;= ids.Length.</param>
    public static int SelectKth(Span<int> ids, ReadOnlySpan<float> keys, int k)
    {
        if (k < 1 || k > ids.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(k), k, $"k must be in 1..{ids.Length}.");
        }

        var target = k - 1;
        var lo = 0;
        var hi = ids.Length - 1;
        while (lo < hi)
        {
            var p = Partition(ids, keys, lo, hi);
            if (p == target)
            {
                return ids[p];
            }

            if (target < p)
            {
                hi = p - 1;
            }
            else
            {
                lo = p + 1;
            }
        }

        return ids[lo];
    }

    /// <summary>
    /// Top-p boundary: returns the last id of the shortest prefix, in the order by <paramref name="weights"/>,
    /// whose summed weight is at least <paramref name="target"/>. If rounding leaves every prefix short, returns
    /// the last id in the order (everything is kept).
    /// </summary>
    /// <param name="ids">Distinct token ids with positive weight; permuted. Must not be empty.</param>
    /// <param name="weights">Unnormalized probability per token id (vocabulary-sized); also the ordering key.</param>
    /// <param name="target">top_p times the summed weight of <paramref name="ids"/>; &gt; 0.</param>
    public static int SelectNucleus(Span<int> ids, ReadOnlySpan<float> weights, double target)
    {
        if (ids.IsEmpty)
        {
            throw new ArgumentException("At least one candidate token is required.", nameof(ids));
        }

        var remaining = target;
        var lo = 0;
        var hi = ids.Length - 1;
        while (true)
        {
            if (lo == hi)
            {
                // Either the boundary, or (rounding) the last candidate in the order: both are the answer.
                return ids[lo];
            }

            var p = Partition(ids, weights, lo, hi);
            var before = 0.0;
            for (var i = lo; i < p; i++)
            {
                before += weights[ids[i]];
            }

            if (before >= remaining)
            {
                // remaining > 0, so the part before the pivot is not empty.
                hi = p - 1;
                continue;
            }

            var through = before + weights[ids[p]];
            if (through >= remaining || p == hi)
            {
                // p == hi: the pivot is the last candidate of this range and the prefix still fell short by rounding.
                return ids[p];
            }

            remaining -= through;
            lo = p + 1;
        }
    }

    /// <summary>True when token <paramref name="a"/> comes before token <paramref name="b"/>.</summary>
    internal static bool Before(int a, int b, ReadOnlySpan<float> keys)
    {
        var ka = keys[a];
        var kb = keys[b];
        return ka > kb || (ka == kb && a < b);
    }

    /// <summary>
    /// Lomuto partition of <c>ids[lo..hi]</c> around a median-of-three pivot. Returns the pivot's final index p:
    /// <c>ids[lo..p)</c> come before it in the order, <c>ids(p..hi]</c> after it.
    /// </summary>
    private static int Partition(Span<int> ids, ReadOnlySpan<float> keys, int lo, int hi)
    {
        var mid = lo + ((hi - lo) >> 1);

        // Sort ids[lo], ids[mid], ids[hi] so that the median lands at mid, then move it to hi.
        if (Before(ids[mid], ids[lo], keys))
        {
            (ids[mid], ids[lo]) = (ids[lo], ids[mid]);
        }

        if (Before(ids[hi], ids[lo], keys))
        {
            (ids[hi], ids[lo]) = (ids[lo], ids[hi]);
        }

        if (Before(ids[hi], ids[mid], keys))
        {
            (ids[hi], ids[mid]) = (ids[mid], ids[hi]);
        }

        (ids[mid], ids[hi]) = (ids[hi], ids[mid]);

        var pivot = ids[hi];
        var pivotKey = keys[pivot];
        var store = lo;
        for (var i = lo; i < hi; i++)
        {
            var id = ids[i];
            var key = keys[id];
            if (key > pivotKey || (key == pivotKey && id < pivot))
            {
                ids[i] = ids[store];
                ids[store] = id;
                store++;
            }
        }

        ids[hi] = ids[store];
        ids[store] = pivot;
        return store;
    }
}

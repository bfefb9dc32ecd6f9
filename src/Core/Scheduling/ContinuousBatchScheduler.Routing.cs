using Llama4Cluster.Core.Caching;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// Cache-aware routing (one type, several files: this one picks a rank for a sequence). The rule, as llm-d's and Dynamo's
/// KV-aware routers do it in spirit: among the ranks that are up and not overloaded — running at most
/// <see cref="SchedulerOptions.PrefixRoutingMaxImbalance"/> sequences more than the least-loaded rank that is up — take
/// the one that was sent the longest prefix of the sequence's tokens (whole blocks of
/// <see cref="SchedulerOptions.PrefixBlockSize"/>); ties go to the less-loaded rank, then the lower number. With no match
/// anywhere this is the least-loaded rank, as without routing. The scheduler cannot see the ranks' memory: it keeps an
/// approximate index of the block hashes it has sent each rank (<see cref="PrefixRouteIndex"/>, the ranks' own hash
/// function), so a rank that evicted a block costs a prefill, never a wrong token.
/// </summary>
public sealed partial class ContinuousBatchScheduler
{
    /// <summary>The rank for <paramref name="s"/> (see the rule above), remembered in the index; -1 when every rank is down.</summary>
    private int PlaceRank(ScheduledSequence s)
    {
        int least = LeastLoadedUpRank();
        if (least < 0 || _prefixIndex is not { } index) return least;
        var chain = PrefixBlockHash.Chain(s.Feed, index.BlockSize);
        int best = least, bestMatch = index.Matched(least, chain);
        for (int r = 0; r < _rankLoad.Length; r++)
        {
            if (r == least || !_health.IsUp(r) || _rankLoad[r] > _rankLoad[least] + _prefixImbalance) continue;
            int match = index.Matched(r, chain);
            if (match > bestMatch || (match == bestMatch && _rankLoad[r] < _rankLoad[best]))
                (best, bestMatch) = (r, match);
        }

        index.Record(best, chain);
        return best;
    }

    /// <summary>A sequence ended on <paramref name="rank"/>: its rank has cached its generated tokens too (a later turn of
    /// the conversation starts with them).</summary>
    private void RememberEnded(int rank, ScheduledSequence s)
    {
        if (_prefixIndex is not { } index || rank < 0) return;
        int[] tokens = [.. s.Prompt, .. s.Generated];
        index.Record(rank, PrefixBlockHash.Chain(tokens, index.BlockSize));
    }
}

using Llama4Cluster.Core.Caching;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>
/// Cache-aware routing: a sequence goes to the rank that was sent the longest prefix of its prompt unless that rank runs
/// more than <see cref="SchedulerOptions.PrefixRoutingMaxImbalance"/> sequences beyond the least-loaded one; the index
/// forgets least recently sent blocks first; the ranks' cache hits become the handle's cached tokens.
/// </summary>
public sealed class PrefixRoutingTests
{
    private static readonly int[] Shared = SchedulerHarness.Prompt(40, seed: 5); // two whole 16-token blocks and a part

    private static int[] With(params int[] tail) => [.. Shared, .. tail];

    /// <summary>Submits A (shared prefix), then C and D (unrelated), then B (shared prefix), all before the first step, and
    /// returns the rank B ran on. Admission in order: A → 0, C → 1, D → 0 (a tie), so B finds rank 0 (its prefix, 2
    /// sequences) against rank 1 (least loaded, 1 sequence).</summary>
    private static async Task<int> RankOfB(Action<SchedulerOptions> configure)
    {
        await using var h = new SchedulerHarness(ranks: 2, configure);
        var handles = new[]
        {
            h.Submit(With(7, 8), SchedulerHarness.Greedy(3)),
            h.Submit(SchedulerHarness.Prompt(30, seed: 9), SchedulerHarness.Greedy(3)),
            h.Submit(SchedulerHarness.Prompt(30, seed: 11), SchedulerHarness.Greedy(3)),
            h.Submit(With(9, 10), SchedulerHarness.Greedy(3)),
        };
        await h.StartAsync();
        foreach (var handle in handles) await SchedulerHarness.OutcomeAsync(handle);
        Assert.Empty(h.Backend.ProtocolErrors);
        return h.StepsInOrder().First(c => c.Request.Sequences.Any(w => w.SequenceId == handles[3].Id)).Rank;
    }

    [Fact]
    public async Task ASharedPrefixGoesToTheRankThatHasItUnlessThatRankIsOverloaded()
    {
        Assert.Equal(0, await RankOfB(o => o.PrefixRoutingMaxImbalance = 4)); // one more sequence than rank 1: not overloaded
        Assert.Equal(1, await RankOfB(o => o.PrefixRoutingMaxImbalance = 0)); // overloaded: the least-loaded rank
        Assert.Equal(1, await RankOfB(o => o.PrefixRouting = false)); // routing off: the least-loaded rank
        Assert.Equal(1, await RankOfB(o => o.PrefixBlockSize = 64)); // no whole block in common: the least-loaded rank
    }

    [Fact]
    public void TheIndexMatchesLeadingBlocksAndForgetsTheLeastRecentlySentFirst()
    {
        var index = new PrefixRouteIndex(ranks: 2, blockSize: 4, blocksPerRank: 5);
        var a = PrefixBlockHash.Chain(SchedulerHarness.Prompt(16, seed: 1), 4); // 4 blocks
        var b = PrefixBlockHash.Chain(SchedulerHarness.Prompt(8, seed: 2), 4);  // 2 blocks
        index.Record(0, a);
        Assert.Equal(4, index.Matched(0, a));
        Assert.Equal(0, index.Matched(1, a));
        Assert.Equal(2, index.Matched(0, [a[0], a[1], b[0]])); // leading blocks only

        index.Record(0, b); // 6 blocks > 5: a's deepest block goes first
        Assert.Equal(5, index.Count(0));
        Assert.Equal(3, index.Matched(0, a));
        Assert.Equal(2, index.Matched(0, b));

        index.Forget(0);
        Assert.Equal(0, index.Matched(0, a));
    }

    [Fact]
    public void TheChainHashNamesPrefixesAndIsStable()
    {
        int[] x = [5, 6, 7, 8, 9, 10, 11, 12], y = [5, 6, 7, 8, 9, 10, 11, 13];
        var cx = PrefixBlockHash.Chain(x, 4);
        var cy = PrefixBlockHash.Chain(y, 4);
        Assert.Equal(cx[0], cy[0]);
        Assert.NotEqual(cx[1], cy[1]);
        Assert.NotEqual(cx[1], PrefixBlockHash.Chain([9, 10, 11, 12], 4)[0]); // the same block after another prefix differs
        Assert.Single(PrefixBlockHash.Chain(x.AsSpan(0, 7), 4)); // a partial block has no hash
        Assert.Equal(0xAC0D56EE0CAFB8A8UL, PrefixBlockHash.Next(PrefixBlockHash.Root, [1, 2, 3])); // fixed across processes and releases
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(32, 32)]
    [InlineData(12, 8)]
    public void TheBlockSizeInEffectDividesTheChunk(int setting, int expected)
    {
        var config = Llama4Presets.TinyScout with { AttentionChunkSize = 8192 };
        Assert.Equal(expected, PrefixBlockHash.BlockSizeFor(config, setting));
        Assert.Equal(setting, PrefixBlockHash.BlockSizeFor(config with { AttentionChunkSize = null }, setting));
    }

    [Fact]
    public async Task TheRanksCacheHitsBecomeTheHandlesCachedTokens()
    {
        await using var h = new SchedulerHarness(configure: o => o.MaxStepTokens = 64);
        h.Backend.CacheHits = w => w.Start is not null ? 32 : 0; // the first chunk of each prompt restores 32 tokens
        var small = h.Submit(SchedulerHarness.Prompt(20, seed: 3), SchedulerHarness.Greedy(2));
        var large = h.Submit(SchedulerHarness.Prompt(100, seed: 4), SchedulerHarness.Greedy(2)); // prefilled over several steps
        await h.StartAsync();
        await SchedulerHarness.OutcomeAsync(small);
        await SchedulerHarness.OutcomeAsync(large);
        Assert.Equal(20, small.CachedTokens); // never more than the prompt
        Assert.Equal(32, large.CachedTokens);
    }
}

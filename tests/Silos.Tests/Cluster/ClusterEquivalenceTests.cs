using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// The main correctness test of the distribution layer: the cluster (3 silos, 2 attention ranks, 3 expert shards
/// per MoE layer, fp32 wire) computes what <see cref="LocalEngine"/> computes — logits within 1e-5 and identical
/// greedy tokens — on top-1, top-2 and dense/MoE-interleaved tiny checkpoints.
/// </summary>
public abstract class ClusterEquivalenceTests<TFixture>(TFixture fixture) where TFixture : TinyClusterFixture
{
    protected TFixture Fixture => fixture;

    private static double MaxAbsDiff(float[][] a, float[][] b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++)
        {
            Assert.Equal(a[i].Length, b[i].Length);
            for (int j = 0; j < a[i].Length; j++) max = Math.Max(max, Math.Abs(a[i][j] - b[i][j]));
        }
        return max;
    }

    [Fact]
    public async Task LogitsOfEveryPositionMatchTheLocalEngine()
    {
        var tokens = ClusterPrompts.Tokens(24, seed: 5);
        var expected = fixture.Local.Logits(tokens);
        var actual = await fixture.Engine.LogitsAsync(tokens);
        double diff = MaxAbsDiff(actual, expected);
        Assert.True(diff < 1e-5, $"max |logit diff| {diff:E3}");
    }

    [Fact]
    public async Task WarmUpLeavesTheTimingsAndTheNextGenerationUnchanged()
    {
        var timings = fixture.Engine.LastTimings;
        double seconds = await fixture.Engine.WarmUpAsync();
        Assert.True(seconds > 0);
        Assert.Same(timings, fixture.Engine.LastTimings);

        var request = new GenerationRequest(ClusterPrompts.Tokens(7, seed: 31), new SamplingParams { Temperature = 0, MaxTokens = 6, IgnoreEos = true });
        var expected = await fixture.Local.GenerateAsync([request]);
        var actual = await fixture.Engine.GenerateAsync([request]);
        Assert.Equal(expected[0].Tokens, actual[0].Tokens);
    }

    [Fact]
    public async Task GreedyBatchedGenerationMatchesTheLocalEngine()
    {
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 8, TopLogprobs = 2 };
        var requests = new[] { 5, 11, 3 }.Select((n, i) => new GenerationRequest(ClusterPrompts.Tokens(n, seed: 20 + i), sampling)).ToArray();
        var expected = await fixture.Local.GenerateAsync(requests);
        var actual = await fixture.Engine.GenerateAsync(requests);
        Assert.Equal(expected.Count, actual.Count);
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Tokens, actual[i].Tokens);
            Assert.Equal(expected[i].FinishReason, actual[i].FinishReason);
            for (int t = 0; t < expected[i].Details.Count; t++)
                Assert.Equal(expected[i].Details[t].Logprob!.Value, actual[i].Details[t].Logprob!.Value, 1e-4);
        }
    }
}

[Collection(TinyScoutCluster.Name)]
public sealed class TinyScoutClusterEquivalenceTests(TinyScoutClusterFixture fixture) : ClusterEquivalenceTests<TinyScoutClusterFixture>(fixture);

[Collection(TinyMaverickCluster.Name)]
public sealed class TinyMaverickClusterEquivalenceTests(TinyMaverickClusterFixture fixture) : ClusterEquivalenceTests<TinyMaverickClusterFixture>(fixture);

[Collection(TinyScoutTop2Cluster.Name)]
public sealed class TinyScoutTop2ClusterEquivalenceTests(TinyScoutTop2ClusterFixture fixture) : ClusterEquivalenceTests<TinyScoutTop2ClusterFixture>(fixture);

[Collection(TinyMaverickTcpCluster.Name)]
public sealed class TinyMaverickTcpClusterEquivalenceTests(TinyMaverickTcpClusterFixture fixture) : ClusterEquivalenceTests<TinyMaverickTcpClusterFixture>(fixture);

/// <summary>
/// The socket data plane with two replicas of every shard: equal to the local engine, and on a healthy cluster the
/// replicas answer the first time (a request that reached a replica as another — the replica lost on the wire — would
/// be refused by that silo and counted as a retry).
/// </summary>
[Collection(TinyScoutReplicasCluster.Name)]
public sealed class TinyScoutReplicasClusterEquivalenceTests(TinyScoutReplicasClusterFixture fixture) : ClusterEquivalenceTests<TinyScoutReplicasClusterFixture>(fixture)
{
    [Fact]
    public async Task EveryReplicaAnswersTheFirstTimeOnAHealthyCluster()
    {
        // Retries counted before and after: other tests of this collection stall shards on purpose, and a replica that the
        // director moves to a later-joined silo costs its first request after the move one retry. A replica lost on the
        // wire would cost every request to replica 1 a retry: about half of all dispatches.
        var before = await DescribeRanksAsync();
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 6 };
        var requests = new[] { 7, 4, 9, 5 }.Select((n, i) => new GenerationRequest(Enumerable.Range(0, n).Select(t => 3 + (t * 31 + i * 7) % 500).ToArray(), sampling)).ToArray();
        await Fixture.Engine.GenerateAsync(requests);
        var after = await DescribeRanksAsync();
        long calls = after.Sum(i => i.DispatchCalls) - before.Sum(i => i.DispatchCalls);
        long retries = after.Sum(i => i.DispatchRetries) - before.Sum(i => i.DispatchRetries);
        Assert.True(calls > 20, $"only {calls} dispatches");
        Assert.True(retries * 10 < calls, $"{retries} of {calls} dispatches were retried on a healthy cluster");
    }

    private async Task<Llama4Cluster.Contracts.Attention.AttentionRankInfo[]> DescribeRanksAsync() =>
        await Task.WhenAll(Enumerable.Range(0, TinyClusterFixture.Ranks)
            .Select(rank => Fixture.Cluster.Client.GetGrain<Llama4Cluster.Contracts.Attention.IAttentionGrain>(rank).DescribeAsync()));
}

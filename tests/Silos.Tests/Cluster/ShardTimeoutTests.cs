using System.Diagnostics;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>A shard that never answers fails the step with an error naming layer and shard, within the bound; no hang.</summary>
public abstract class ShardTimeoutTests<TFixture>(TFixture fixture) where TFixture : TinyClusterFixture
{
    [Fact]
    public async Task AShardThatNeverAnswersFailsTheStepWithinTheBound()
    {
        var tokens = Enumerable.Range(0, 24).Select(i => 3 + (i * 37) % 500).ToArray();
        var watch = Stopwatch.StartNew();
        Exception error;
        using (ShardCallRecorder.Instance.HangShard(layer: 1, shard: 2))
        {
            error = await Assert.ThrowsAnyAsync<Exception>(() => fixture.Engine.LogitsAsync(tokens));
            watch.Stop();
        }
        var bound = TinyClusterFixture.ShardTimeout;
        Assert.True(error.ToString().Contains("MoE layer 1: expert shard 2", StringComparison.Ordinal), error.ToString());
        Assert.True(watch.Elapsed >= bound * 0.9, $"failed after {watch.Elapsed}, before the {bound} bound");
        Assert.True(watch.Elapsed < bound + TimeSpan.FromSeconds(10), $"took {watch.Elapsed} to fail (bound {bound})");

        // The cluster still serves: the rank dropped the broken sequence and the released shard answers again.
        var again = await fixture.Engine.LogitsAsync(tokens);
        Assert.Equal(tokens.Length, again.Length);
    }
}

[Collection(TinyScoutCluster.Name)]
public sealed class ShardTimeoutTests(TinyScoutClusterFixture fixture) : ShardTimeoutTests<TinyScoutClusterFixture>(fixture);

[Collection(TinyMaverickTcpCluster.Name)]
public sealed class TcpShardTimeoutTests(TinyMaverickTcpClusterFixture fixture) : ShardTimeoutTests<TinyMaverickTcpClusterFixture>(fixture);

using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Experts;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// Per MoE layer per step, each attention rank sends exactly one dispatch to each shard that owns an expert its
/// tokens chose — none to empty shards, never one per token or per expert — and the rows it sends are exactly
/// its tokens × top-k. Counted on the shards' silos by an <see cref="Experts.IExpertShardObserver"/>, for grain calls
/// and for the socket data plane.
/// </summary>
public abstract class MessageDisciplineTests<TFixture>(TFixture fixture) where TFixture : TinyClusterFixture
{
    [Fact]
    public async Task OneDispatchPerRankAndShardWithRowsPerMoeLayerPerStep()
    {
        var config = fixture.Config;
        var map = new EvenExpertShardMap(config.NumLocalExperts, TinyClusterFixture.ShardsPerLayer);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 4, IgnoreEos = true };
        int[][] prompts = [[5, 6, 7, 8, 9], [10, 11, 12], [13, 14, 15, 16, 17, 18, 19], [20, 21]];
        var requests = prompts.Select(p => new GenerationRequest(p, sampling)).ToArray();

        long ServedBySockets() => fixture.Cluster.Silos.Sum(s => s.ServiceProvider.GetRequiredService<DataPlaneServer>().RequestsServed);
        long socketsBefore = ServedBySockets();
        ShardCallRecorder.Instance.Clear();
        await fixture.Engine.GenerateAsync(requests);
        var calls = ShardCallRecorder.Instance.Calls;
        // Every dispatch took the configured transport.
        Assert.Equal(fixture.DataPlane == DataPlaneKind.Tcp ? calls.Count : 0, ServedBySockets() - socketsBefore);

        // Sequence i runs on rank i % ranks; step 1 is the prefill, steps 2..4 decode one token per sequence.
        var steps = calls.Select(c => c.Step).Distinct().Order().ToArray();
        Assert.Equal(sampling.MaxTokens, steps.Length);
        var moeLayers = Enumerable.Range(0, config.NumHiddenLayers).Where(config.IsMoeLayer).ToArray();
        bool sawEmptyShard = false;
        for (int rank = 0; rank < TinyClusterFixture.Ranks; rank++)
        {
            var mine = Enumerable.Range(0, prompts.Length).Where(i => i % TinyClusterFixture.Ranks == rank).ToArray();
            for (int s = 0; s < steps.Length; s++)
            {
                int tokens = s == 0 ? mine.Sum(i => prompts[i].Length) : mine.Length;
                foreach (int layer in moeLayers)
                {
                    var group = calls.Where(c => c.Rank == rank && c.Step == steps[s] && c.Layer == layer).ToArray();
                    Assert.NotEmpty(group);
                    Assert.Equal(group.Length, group.Select(c => c.Shard).Distinct().Count());
                    foreach (var c in group)
                    {
                        Assert.True(c.Inputs.Rows > 0, $"an empty dispatch to layer {layer} shard {c.Shard}");
                        Assert.All(c.Counts, n => Assert.True(n > 0));
                        Assert.Equal(c.Inputs.Rows, c.Counts.Sum());
                        Assert.All(c.ExpertIds, e => Assert.Equal(c.Shard, map.ShardOf(layer, e)));
                        Assert.Equal(c.ExpertIds.Order(), c.ExpertIds);
                    }
                    Assert.Equal(tokens * config.NumExpertsPerToken, group.Sum(c => c.Inputs.Rows));
                    sawEmptyShard |= group.Length < TinyClusterFixture.ShardsPerLayer;
                }
            }
        }
        // Decode steps route 2 tokens × top-2 among 128 experts in 3 shards: some shard gets nothing and no call.
        Assert.True(sawEmptyShard, "no step left a shard empty, so the test did not exercise 'none to empty shards'");
        Assert.DoesNotContain(calls, c => c.Step < steps[0] || c.Step > steps[^1]);
    }
}

[Collection(TinyMaverickCluster.Name)]
public sealed class MessageDisciplineTests(TinyMaverickClusterFixture fixture) : MessageDisciplineTests<TinyMaverickClusterFixture>(fixture);

[Collection(TinyMaverickTcpCluster.Name)]
public sealed class TcpMessageDisciplineTests(TinyMaverickTcpClusterFixture fixture) : MessageDisciplineTests<TinyMaverickTcpClusterFixture>(fixture);

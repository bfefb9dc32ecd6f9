using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Kernels.Model;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// Attention ranks split into pipeline stages, each stage a grain on its own silo: the cluster computes what the
/// unstaged <see cref="Kernels.Engine.LocalEngine"/> does (the equivalence tests), every stage holds only its layers and
/// dispatches its own MoE layers, and each step costs one hand-off per stage boundary per forward pass and one dispatch
/// per (stage, shard) per MoE layer.
/// </summary>
public abstract class StagedClusterTests<TFixture>(TFixture fixture) : ClusterEquivalenceTests<TFixture>(fixture) where TFixture : TinyClusterFixture
{
    private Task<AttentionRankInfo> DescribeAsync(int rank, int stage) => stage == 0
        ? Fixture.Cluster.Client.GetGrain<IAttentionGrain>(rank).DescribeAsync()
        : Fixture.Cluster.Client.GetGrain<IAttentionStageGrain>(PlacementKey.ForAttentionStage(rank, stage).ToString()).DescribeAsync();

    private async Task<AttentionRankInfo[][]> DescribeAllAsync()
    {
        var ranks = new AttentionRankInfo[TinyClusterFixture.Ranks][];
        for (int r = 0; r < ranks.Length; r++)
            ranks[r] = await Task.WhenAll(Enumerable.Range(0, Fixture.Stages).Select(s => DescribeAsync(r, s)));
        return ranks;
    }

    [Fact]
    public async Task EachStageHoldsItsLayersOnItsOwnSilo()
    {
        var ranges = LayerRange.Split(Fixture.Config.NumHiddenLayers, Fixture.Stages);
        var all = await DescribeAllAsync();
        foreach (var stages in all)
        {
            Assert.Equal(Fixture.Stages, stages.Select(s => s.Silo).Distinct().Count());
            for (int s = 0; s < stages.Length; s++)
            {
                Assert.Equal(s, stages[s].Stage);
                Assert.Equal(Fixture.Stages, stages[s].Stages);
                Assert.Equal(ranges[s].ToString(), stages[s].StageLayers);
            }
        }

        // With as many silos as stages, each silo holds one stage of each rank: the ranks interleave through the silos.
        if (Fixture.Stages == TinyClusterFixture.Silos)
            Assert.All(all.SelectMany(r => r).GroupBy(i => i.Silo), g => Assert.Equal(TinyClusterFixture.Ranks, g.Select(i => i.Rank).Distinct().Count()));
    }

    [Fact]
    public async Task OneHandOffPerBoundaryPerPassAndOneDispatchPerStageAndShardPerMoeLayer()
    {
        var config = Fixture.Config;
        var ranges = LayerRange.Split(config.NumHiddenLayers, Fixture.Stages);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 4, IgnoreEos = true };
        int[][] prompts = [[5, 6, 7], [10, 11], [13, 14, 15, 16], [20, 21]];
        var requests = prompts.Select(p => new GenerationRequest(p, sampling)).ToArray();
        await Fixture.Engine.GenerateAsync(requests); // every stage loaded and warm
        var before = await DescribeAllAsync();
        ShardCallRecorder.Instance.Clear();
        await Fixture.Engine.GenerateAsync(requests);
        var after = await DescribeAllAsync();
        var calls = ShardCallRecorder.Instance.Calls;
        var moeLayers = Enumerable.Range(0, config.NumHiddenLayers).Where(config.IsMoeLayer).ToArray();
        for (int rank = 0; rank < TinyClusterFixture.Ranks; rank++)
        {
            var mine = calls.Where(c => c.Rank == rank).ToArray();
            var passes = mine.Select(c => (c.Step, c.Pass)).Distinct().Count();
            Assert.Equal(sampling.MaxTokens, mine.Select(c => c.Step).Distinct().Count());
            for (int s = 0; s < Fixture.Stages; s++)
            {
                long handOffs = after[rank][s].HandOffs - before[rank][s].HandOffs;
                Assert.Equal(s == Fixture.Stages - 1 ? 0 : passes, handOffs);
                long dispatches = after[rank][s].DispatchCalls - before[rank][s].DispatchCalls;
                Assert.Equal(mine.Count(c => ranges[s].Contains(c.Layer)), dispatches); // each stage dispatches its own MoE layers
            }

            foreach (var group in mine.GroupBy(c => (c.Step, c.Pass, c.Layer)))
            {
                Assert.Contains(group.Key.Layer, moeLayers);
                Assert.Equal(group.Count(), group.Select(c => c.Shard).Distinct().Count());
            }
        }
    }
}

[Collection(TinyBehemothStagedCluster.Name)]
public sealed class TinyBehemothStagedClusterTests(TinyBehemothStagedClusterFixture fixture) : StagedClusterTests<TinyBehemothStagedClusterFixture>(fixture);

[Collection(TinyMaverickStagedCluster.Name)]
public sealed class TinyMaverickStagedClusterTests(TinyMaverickStagedClusterFixture fixture) : StagedClusterTests<TinyMaverickStagedClusterFixture>(fixture);

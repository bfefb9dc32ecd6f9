using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using TorchSharp;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// <c>--shared-experts shards</c>: each MoE layer's shared expert runs on one more expert shard (index = the routed shards
/// per layer). The ranks (every stage) load no shared-expert tensor, the shared shards load exactly theirs, and every
/// forward pass sends each MoE layer's tokens to the shared shard once, beside one dispatch per routed shard with rows.
/// Equivalence with <see cref="LocalEngine"/> is checked by the equivalence and staged test classes on the same fixtures.
/// </summary>
public abstract class SharedExpertShardTests<TFixture>(TFixture fixture) where TFixture : TinyClusterFixture
{
    private const int SharedShard = TinyClusterFixture.ShardsPerLayer;

    private Task<AttentionRankInfo> DescribeAsync(int rank, int stage) => stage == 0
        ? fixture.Cluster.Client.GetGrain<IAttentionGrain>(rank).DescribeAsync()
        : fixture.Cluster.Client.GetGrain<IAttentionStageGrain>(PlacementKey.ForAttentionStage(rank, stage).ToString()).DescribeAsync();

    [Fact]
    public async Task RanksHoldNoSharedExpertAndEachSharedShardReadsOnlyItsOwn()
    {
        var config = fixture.Config;
        var moeLayers = Enumerable.Range(0, config.NumHiddenLayers).Where(config.IsMoeLayer).ToArray();
        var shards = fixture.Loaded.Shards;
        Assert.Equal(moeLayers.Length * (TinyClusterFixture.ShardsPerLayer + 1), shards.Count);
        var shared = shards.Where(s => s.Shard == SharedShard).ToDictionary(s => s.Layer);
        Assert.Equal(moeLayers, shared.Keys.Order());
        using var reader = CheckpointReader.Open(fixture.ModelDirectory);
        foreach (var (layer, info) in shared)
        {
            Assert.Equal(new[] { ExpertShardRequest.SharedExpert }, info.ExpertIds);
            Assert.Equal(OnDisk(reader, layer), info.BytesRead);
            Assert.Equal(3L * config.IntermediateSize * config.HiddenSize * sizeof(float), info.WeightBytes); // fp32 compute
        }

        // What each stage read is what the same stage reads holding its shared experts, less exactly their bytes.
        var ranges = LayerRange.Split(config.NumHiddenLayers, fixture.Stages);
        for (int rank = 0; rank < TinyClusterFixture.Ranks; rank++)
        {
            for (int s = 0; s < fixture.Stages; s++)
            {
                var stage = await DescribeAsync(rank, s);
                long holding = BytesReadHoldingSharedExperts(fixture.Stages == 1 ? null : ranges[s]);
                long sharedBytes = moeLayers.Where(ranges[s].Contains).Sum(l => shared[l].BytesRead);
                Assert.True(sharedBytes > 0 || !moeLayers.Any(ranges[s].Contains));
                Assert.Equal(holding - sharedBytes, stage.WeightBytes);
            }
        }
    }

    [Fact]
    public async Task EveryPassSendsEachMoeLayerToItsSharedShardOnceBesideOneDispatchPerRoutedShard()
    {
        var config = fixture.Config;
        var moeLayers = Enumerable.Range(0, config.NumHiddenLayers).Where(config.IsMoeLayer).ToArray();
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 4, IgnoreEos = true };
        int[][] prompts = [[5, 6, 7, 8, 9], [10, 11, 12], [13, 14, 15, 16, 17, 18, 19], [20, 21]];
        await fixture.Engine.GenerateAsync(prompts.Select(p => new GenerationRequest(p, sampling)).ToArray()); // warm
        ShardCallRecorder.Instance.Clear();
        await fixture.Engine.GenerateAsync(prompts.Select(p => new GenerationRequest(p, sampling)).ToArray());
        var calls = ShardCallRecorder.Instance.Calls;
        for (int rank = 0; rank < TinyClusterFixture.Ranks; rank++)
        {
            var mine = calls.Where(c => c.Rank == rank).ToArray();
            var passes = mine.Select(c => (c.Step, c.Pass)).Distinct().ToArray();
            Assert.Equal(sampling.MaxTokens, passes.Select(p => p.Step).Distinct().Count());
            foreach (var (step, pass) in passes)
            {
                foreach (int layer in moeLayers)
                {
                    var group = mine.Where(c => c.Step == step && c.Pass == pass && c.Layer == layer).ToArray();
                    // A hedged request (replicas) reaches a second replica with the same rows; otherwise one call per shard.
                    foreach (var byShard in group.GroupBy(c => c.Shard))
                    {
                        Assert.Equal(byShard.Count(), byShard.Select(c => c.Replica).Distinct().Count());
                        Assert.True(fixture.ExpertReplicas > 1 || byShard.Count() == 1, $"{byShard.Count()} calls to layer {layer} shard {byShard.Key}");
                    }
                    var sharedCall = group.Where(c => c.Shard == SharedShard).ToArray();
                    Assert.NotEmpty(sharedCall);
                    int tokens = (int)sharedCall[0].Inputs.Rows;
                    Assert.All(sharedCall, c =>
                    {
                        Assert.Equal(new[] { ExpertShardRequest.SharedExpert }, c.ExpertIds);
                        Assert.Equal(new[] { tokens }, c.Counts);
                    });
                    var routed = group.Where(c => c.Shard != SharedShard).DistinctBy(c => c.Shard).ToArray();
                    Assert.All(routed, c => Assert.DoesNotContain(ExpertShardRequest.SharedExpert, c.ExpertIds));
                    Assert.Equal(tokens * config.NumExpertsPerToken, routed.Sum(c => c.Inputs.Rows));
                }
            }
        }
    }

    /// <summary>Bytes a stage of <paramref name="layers"/> (null: the whole model) reads when it loads its shared experts itself.</summary>
    private long BytesReadHoldingSharedExperts(LayerRange? layers)
    {
        using var reader = CheckpointReader.Open(fixture.ModelDirectory);
        using var model = Llama4TextModel.Load(new CheckpointWeightSource(reader), new ModelOptions { Layers = layers }, new NoExperts());
        return reader.BytesRead;
    }

    /// <summary>Bytes of layer <paramref name="layer"/>'s three shared-expert tensors in the checkpoint.</summary>
    private static long OnDisk(CheckpointReader reader, int layer)
    {
        long before = reader.BytesRead;
        using var shared = SharedExpertWeights.Load(new CheckpointWeightSource(reader), layer, torch.ScalarType.Float32, torch.CPU);
        return reader.BytesRead - before;
    }

    /// <summary>A dispatcher that is never called: the load only needs one to skip the routed experts.</summary>
    private sealed class NoExperts : IExpertDispatcher
    {
        public ValueTask<torch.Tensor> DispatchAsync(int layer, ExpertDispatchBatch batch, DispatchContext context, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("not called");
    }
}

/// <summary>
/// Where a step runs as one forward pass (no payload-budget split, which changes GEMM shapes and so rounding), the cluster
/// with shared-expert shards computes bit-for-bit the <see cref="LocalEngine"/>'s fp32 logits: the shard runs the rank's
/// SwiGLU on the same rows (fp32 wire) and the combine adds in the same order.
/// </summary>
public abstract class SharedExpertShardBitExactTests<TFixture>(TFixture fixture) where TFixture : TinyClusterFixture
{
    private TFixture Fixture => fixture;

    [Fact]
    public async Task LogitsAreBitForBitTheLocalEngines()
    {
        // The shard runs the rank's SwiGLU on the same rows (fp32 wire) and the combine is unchanged: no rounding moves.
        var rng = new Random(7);
        var tokens = Enumerable.Range(0, 20).Select(_ => rng.Next(3, 512)).ToArray();
        var expected = Fixture.Local.Logits(tokens);
        var actual = await Fixture.Engine.LogitsAsync(tokens);
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], actual[i]);
    }
}

[Collection(TinyScoutSharedShardsCluster.Name)]
public sealed class TinyScoutSharedExpertShardTests(TinyScoutSharedShardsClusterFixture fixture) : SharedExpertShardTests<TinyScoutSharedShardsClusterFixture>(fixture);

[Collection(TinyScoutSharedShardsCluster.Name)]
public sealed class TinyScoutSharedShardsEquivalenceTests(TinyScoutSharedShardsClusterFixture fixture) : ClusterEquivalenceTests<TinyScoutSharedShardsClusterFixture>(fixture);

[Collection(TinyMaverickSharedShardsCluster.Name)]
public sealed class TinyMaverickSharedExpertShardTests(TinyMaverickSharedShardsClusterFixture fixture) : SharedExpertShardTests<TinyMaverickSharedShardsClusterFixture>(fixture);

[Collection(TinyMaverickSharedShardsCluster.Name)]
public sealed class TinyMaverickSharedShardsEquivalenceTests(TinyMaverickSharedShardsClusterFixture fixture) : ClusterEquivalenceTests<TinyMaverickSharedShardsClusterFixture>(fixture);

[Collection(TinyBehemothStagedSharedShardsCluster.Name)]
public sealed class TinyBehemothStagedSharedExpertShardTests(TinyBehemothStagedSharedShardsClusterFixture fixture)
    : SharedExpertShardTests<TinyBehemothStagedSharedShardsClusterFixture>(fixture);

/// <summary>Staged and shared shards together: equivalence, one hand-off per boundary per pass, and each stage's dispatches
/// exactly its own MoE layers' calls (the shared-expert shards' included).</summary>
[Collection(TinyBehemothStagedSharedShardsCluster.Name)]
public sealed class TinyBehemothStagedSharedShardsStagedTests(TinyBehemothStagedSharedShardsClusterFixture fixture)
    : StagedClusterTests<TinyBehemothStagedSharedShardsClusterFixture>(fixture);

[Collection(TinyMaverickSharedShardsCluster.Name)]
public sealed class TinyMaverickSharedShardsBitExactTests(TinyMaverickSharedShardsClusterFixture fixture)
    : SharedExpertShardBitExactTests<TinyMaverickSharedShardsClusterFixture>(fixture);

[Collection(TinyBehemothStagedSharedShardsCluster.Name)]
public sealed class TinyBehemothStagedSharedShardsBitExactTests(TinyBehemothStagedSharedShardsClusterFixture fixture)
    : SharedExpertShardBitExactTests<TinyBehemothStagedSharedShardsClusterFixture>(fixture);

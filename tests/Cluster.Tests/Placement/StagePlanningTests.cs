using System.Collections.Immutable;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Tests.Placement;

/// <summary>
/// Attention ranks as pipeline stages in plans: each stage one device holding its layers' weights and KV, the layers cut
/// as the runtime cuts them; shared experts with the rank or as shards; the binding constraint of a does-not-fit answer.
/// </summary>
public sealed class StagePlanningTests
{
    private const long Gb = ByteSize.GB;
    private const long H100 = 80 * Gb;
    private const long H100Usable = 72 * Gb;
    private static readonly Llama4TextConfig Maverick = Llama4Presets.Get("maverick");
    private static readonly Llama4TextConfig Behemoth = Llama4Presets.Get("behemoth");

    [Theory]
    [InlineData("scout")]
    [InlineData("maverick")]
    [InlineData("behemoth")]
    [InlineData("tiny-maverick")]
    public void RankFootprint_WithSharedExpertsOnTheRank_IsTheModelsNonExpertBytes(string preset)
    {
        var config = Llama4Presets.Get(preset);
        var footprint = ModelFootprint.For(config, WeightDType.Bf16);
        var rank = RankFootprint.For(config, 1_000_003, 8192, SharedExpertPlacement.Rank);

        Assert.Equal(footprint.NonExpertBytes, rank.WeightBytes);
        Assert.Equal(1_000_003, rank.KvBytes); // apportioned over the layers, summing exactly
        var shards = RankFootprint.For(config, 0, 8192, SharedExpertPlacement.Shards);
        Assert.Equal(footprint.NonExpertBytes - footprint.MoeLayers.Length * 2 * config.ExpertParameters, shards.WeightBytes);
        // The stages of any cut add up to the whole rank.
        foreach (int k in new[] { 1, 2, 3, config.NumHiddenLayers })
        {
            var parts = StageLayers.Split(config.NumHiddenLayers, k).Select(rank.Stage).ToList();
            Assert.Equal(rank.WeightBytes, parts.Sum(p => p.Weights));
            Assert.Equal(rank.KvBytes, parts.Sum(p => p.Kv));
        }
    }

    [Fact]
    public void RankFootprint_KvFollowsEachLayersTokens_ChunkedLayersHoldOneChunk()
    {
        // Scout: chunk 8192; at 100k tokens the 12 NoPE layers hold 100k tokens, the 36 RoPE layers 8192.
        var scout = Llama4Presets.Get("scout");
        var footprint = ModelFootprint.For(scout, WeightDType.Bf16);
        long kv = 8 * footprint.KvBytesPerSequence(100_000);
        var rank = RankFootprint.For(scout, kv, 100_000, SharedExpertPlacement.Rank);
        Assert.Equal(8L * 100_000 * footprint.KvBytesPerTokenPerLayer, rank.LayerKvBytes[3]); // layer 3 is NoPE
        Assert.Equal(8L * 8192 * footprint.KvBytesPerTokenPerLayer, rank.LayerKvBytes[0]);
        // Embeddings on the first stage only, lm_head on the last only.
        var (first, _) = rank.Stage(new StageLayers(0, 1));
        var (middle, _) = rank.Stage(new StageLayers(1, 1));
        var (last, _) = rank.Stage(new StageLayers(47, 1));
        Assert.Equal(rank.EmbeddingBytes, first - middle);
        Assert.Equal(rank.HeadBytes, last - middle);
    }

    [Fact]
    public void StageLayers_SplitsEvenly_EarlierStagesTakeTheExtraLayer()
    {
        Assert.Equal([new StageLayers(0, 30), new StageLayers(30, 29), new StageLayers(59, 29)], StageLayers.Split(88, 3).ToArray());
        Assert.Equal("layers 0..29", StageLayers.Split(88, 3)[0].ToString());
        Assert.Throws<ArgumentException>(() => StageLayers.Split(4, 5));
    }

    [Theory]
    [InlineData(WeightDType.Fp8)]
    [InlineData(WeightDType.Bf16)]
    public void Behemoth_On8Hosts_Fits_WithEveryRankStageOnOneDevice(WeightDType dtype)
    {
        var outcome = PlacementPlanner.Plan(Behemoth, dtype, ClusterInventory.Uniform(8, 8, H100));

        Assert.True(outcome.Fits, outcome.ToString());
        var plan = outcome.Plan;
        Assert.True(plan.StagesPerRank >= 2, $"{plan.StagesPerRank} stage(s)");
        PlacementPlannerTests.AssertPlanIsConsistent(plan);
        foreach (var stage in plan.AttentionRanks.SelectMany(r => r.Stages))
            Assert.True(stage.WeightBytes + stage.KvBytes <= H100Usable, $"stage {stage.Stage}: {stage.WeightBytes + stage.KvBytes} B");
        // The shared experts (1.3 B parameters per layer) are what makes a rank big: auto moves them to the shards,
        // which takes fewer stages than keeping them.
        Assert.Equal(SharedExpertPlacement.Shards, plan.SharedExperts);
        var kept = PlacementPlanner.Plan(Behemoth, dtype, ClusterInventory.Uniform(8, 8, H100), new PlacementOptions { SharedExperts = SharedExpertPlacement.Rank });
        Assert.True(kept.Fits, kept.ToString());
        Assert.True(kept.Plan.StagesPerRank > plan.StagesPerRank, $"{kept.Plan.StagesPerRank} vs {plan.StagesPerRank}");
        PlacementPlannerTests.AssertPlanIsConsistent(kept.Plan);
    }

    [Fact]
    public void Maverick_KeepsSharedExpertsOnTheRank_OneStage()
    {
        var fp8 = PlacementPlanner.Plan(Maverick, WeightDType.Fp8, ClusterInventory.Uniform(1, 8, H100));
        var bf16 = PlacementPlanner.Plan(Maverick, WeightDType.Bf16, ClusterInventory.Uniform(2, 8, H100));

        foreach (var outcome in new[] { fp8, bf16 })
        {
            Assert.True(outcome.Fits, outcome.ToString());
            Assert.Equal(1, outcome.Plan.StagesPerRank);
            Assert.Equal(SharedExpertPlacement.Rank, outcome.Plan.SharedExperts);
            PlacementPlannerTests.AssertPlanIsConsistent(outcome.Plan);
        }
        var one = PlacementPlanner.Plan(Maverick, WeightDType.Bf16, ClusterInventory.Uniform(1, 8, H100));
        Assert.False(one.Fits);
        Assert.Equal(PlacementConstraint.TotalMemory, one.Shortfall.Constraint);
        Assert.Contains("at least 12 device(s) of 72.0 GB usable", one.Shortfall.Message);
    }

    [Fact]
    public void StagesAsked_CutsEveryRankSo_AndSiloForAnswersForLaterStages()
    {
        var tiny = Llama4Presets.TinyBehemoth;
        var cpu = ImmutableArray.Create(new DeviceInventory("cpu", Gb));
        var inventory = new ClusterInventory([.. Enumerable.Range(0, 3).Select(i => new SiloInventory($"attn-{i}", null, SiloRole.Attention, cpu)),
            new SiloInventory("exp", null, SiloRole.Expert, cpu)]);
        var plan = PlacementPlanner.Plan(tiny, WeightDType.Bf16, inventory, new PlacementOptions { Stages = 3, AttentionRanks = 2, KvBytesPerRank = 1 << 20 }).Plan!;

        Assert.Equal(3, plan.StagesPerRank);
        PlacementPlannerTests.AssertPlanIsConsistent(plan);
        foreach (var rank in plan.AttentionRanks)
        {
            Assert.Equal(3, rank.Stages.Select(s => s.Silo).Distinct().Count()); // one attention device per silo: a stage each
            for (int s = 0; s < 3; s++)
                Assert.Equal(rank.Stages[s].Silo, plan.SiloFor(PlacementKey.ForAttentionStage(rank.Rank, s))!.Name);
        }
        Assert.Null(plan.SiloFor(PlacementKey.ForAttentionStage(0, 3)));
        Assert.Null(plan.SiloFor(PlacementKey.ForAttentionStage(2, 1)));
    }

    [Fact]
    public void SharedExpertsAsShards_OneMoreShardPerLayerAndReplica_TheStagesDoNotHoldThem()
    {
        var plan = PlacementPlanner.Plan(Llama4Presets.TinyScout, WeightDType.Bf16, ClusterInventory.Uniform(2, 2, Gb),
            new PlacementOptions { SharedExperts = SharedExpertPlacement.Shards, ShardsPerLayer = 2, Replicas = 2, KvBytesPerRank = 0 }).Plan!;

        Assert.Equal(SharedExpertPlacement.Shards, plan.SharedExperts);
        PlacementPlannerTests.AssertPlanIsConsistent(plan);
        foreach (int layer in plan.Footprint.MoeLayers)
            for (int replica = 0; replica < 2; replica++)
            {
                var shared = plan.FindShard(layer, 2, replica)!;
                Assert.True(plan.IsSharedExpertShard(shared));
                Assert.Empty(shared.Experts);
                Assert.Equal(2 * Llama4Presets.TinyScout.ExpertParameters, shared.Bytes);
            }
        // The map the dispatcher uses still sees 2 routed shards per layer.
        var map = new PlanExpertShardMap(plan, 16);
        Assert.Equal(2, map.Shards);
    }

    [Fact]
    public void AStageThatFitsNoDevice_IsTheBindingConstraint()
    {
        // 20 GB devices (18 GB usable) and 2 TB of KV per rank: 22.7 GB of KV per layer, so not even a one-layer stage fits.
        var outcome = PlacementPlanner.Plan(Behemoth, WeightDType.Fp8, ClusterInventory.Uniform(64, 8, 20 * Gb),
            new PlacementOptions { KvBytesPerRank = 2000 * Gb, SharedExperts = SharedExpertPlacement.Rank });

        Assert.False(outcome.Fits);
        Assert.Equal(PlacementConstraint.StageDevice, outcome.Shortfall.Constraint);
        Assert.StartsWith("does not fit: a pipeline stage of 1 layer", outcome.Shortfall.Message);
        Assert.Contains("> 18.0 GB available", outcome.Shortfall.Message);
        Assert.Equal(18 * Gb, outcome.Shortfall.AvailableBytes);
    }

    [Fact]
    public void TooFewStagesAsked_IsTheStageDeviceConstraint()
    {
        var outcome = PlacementPlanner.Plan(Behemoth, WeightDType.Fp8, ClusterInventory.Uniform(8, 8, H100), new PlacementOptions { Stages = 2, SharedExperts = SharedExpertPlacement.Rank });

        Assert.False(outcome.Fits);
        Assert.Equal(PlacementConstraint.StageDevice, outcome.Shortfall.Constraint);
        Assert.Contains("stage of 2", outcome.Shortfall.Message);
        Assert.Contains("--stages", outcome.Shortfall.Hint);
    }

    [Fact]
    public void ExpertsThatDoNotFitAfterTheStages_NameTheDevicesNeededAndLeft()
    {
        // Attention-only silos hold the ranks; one expert host of 8 × 80 GB cannot hold Maverick's 773 GB of bf16 experts.
        var cpu8 = ImmutableArray.CreateRange(Enumerable.Range(0, 8).Select(i => new DeviceInventory($"cuda:{i}", H100)));
        var inventory = new ClusterInventory([new SiloInventory("attn", null, SiloRole.Attention, cpu8), new SiloInventory("exp", null, SiloRole.Expert, cpu8),
            new SiloInventory("exp2", null, SiloRole.Expert, [new DeviceInventory("cuda:0", H100)])]);
        var outcome = PlacementPlanner.Plan(Maverick, WeightDType.Bf16, inventory);

        Assert.False(outcome.Fits, outcome.ToString());
        Assert.Equal(PlacementConstraint.ExpertDevices, outcome.Shortfall.Constraint);
        Assert.Contains("11 devices' worth", outcome.Shortfall.Message);
        Assert.Contains("9 expert-capable devices", outcome.Shortfall.Message);
    }
}

using System.Collections.Immutable;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cluster.Tests.Placement;

public sealed class PlacementPlannerTests
{
    private const long Gb = 1_000_000_000L;
    private const long H100 = 80 * Gb;
    /// <summary>Usable bytes of an 80 GB device after the default 10% headroom.</summary>
    private const long H100Usable = 72 * Gb;

    // Spec §1.4: one expert 3·D·F = 125,829,120 parameters; Maverick text total 400,711,848,960.
    private const long MaverickExpertParams = 125_829_120;
    private const long MaverickTotalParams = 400_711_848_960;
    private const int MaverickMoeLayers = 24;
    /// <summary>One Maverick expert in fp8: weights at 1 B plus an f32 scale per output row (2F + D rows).</summary>
    private const long MaverickFp8ExpertBytes = MaverickExpertParams + 4 * (2 * 8192 + 5120);

    private static readonly Llama4TextConfig Maverick = Llama4Presets.Get("maverick");
    private static readonly Llama4TextConfig Scout = Llama4Presets.Get("scout");
    private static readonly Llama4TextConfig Behemoth = Llama4Presets.Get("behemoth");

    /// <summary>Default KV budget: 8 sequences × 8192 tokens × layers × 2·KV·hd·2 B (every layer holds all 8192: chunk = 8192).</summary>
    private static long DefaultKv(Llama4TextConfig c) => 8L * 8192 * c.NumHiddenLayers * 2 * c.NumKeyValueHeads * c.HeadDim * 2;

    [Fact]
    public void Footprint_Maverick_MatchesTheSpecArithmetic()
    {
        var bf16 = ModelFootprint.For(Maverick, WeightDType.Bf16);
        var fp8 = ModelFootprint.For(Maverick, WeightDType.Fp8);

        Assert.Equal(MaverickExpertParams, bf16.ExpertParameters);
        Assert.Equal(MaverickMoeLayers, bf16.MoeLayers.Length);
        Assert.Equal(773_094_113_280, bf16.RoutedExpertBytes); // "~775 GB bf16" (DESIGN.md)
        Assert.Equal(MaverickMoeLayers * 128 * MaverickFp8ExpertBytes, fp8.RoutedExpertBytes); // "~390 GB fp8"
        long nonExpertParams = MaverickTotalParams - MaverickMoeLayers * 128 * MaverickExpertParams;
        Assert.Equal(14_164_792_320, nonExpertParams);
        Assert.Equal(2 * nonExpertParams, bf16.NonExpertBytes);
        Assert.Equal(bf16.NonExpertBytes, fp8.NonExpertBytes); // only routed experts are fp8
        Assert.Equal(192 * 1024 * 8192L, bf16.KvBytesPerSequence(8192)); // 192 KiB per token over 48 layers
        // Past one chunk only the 12 NoPE layers keep growing.
        Assert.Equal(36 * 4096L * 8192 + 12 * 4096L * 100_000, bf16.KvBytesPerSequence(100_000));
    }

    [Fact]
    public void Maverick_Bf16_DoesNotFitOneHostOf8x80GB()
    {
        var outcome = PlacementPlanner.Plan(Maverick, WeightDType.Bf16, ClusterInventory.Uniform(1, 8, H100));

        Assert.False(outcome.Fits);
        long expected = 773_094_113_280 + 2 * 14_164_792_320 + DefaultKv(Maverick);
        Assert.Equal(expected, outcome.Shortfall.NeededBytes);
        Assert.Equal(8 * H100Usable, outcome.Shortfall.AvailableBytes);
        Assert.StartsWith("does not fit: ", outcome.Shortfall.Message);
        Assert.Contains("needs 814.3 GB > 576.0 GB available", outcome.Shortfall.Message);
        Assert.Equal(PlacementConstraint.TotalMemory, outcome.Shortfall.Constraint);
        Assert.Contains("fp8", outcome.Shortfall.Message);
    }

    [Fact]
    public void Maverick_Fp8_FitsOneHostOf8x80GB()
    {
        var outcome = PlacementPlanner.Plan(Maverick, WeightDType.Fp8, ClusterInventory.Uniform(1, 8, H100));

        Assert.True(outcome.Fits, outcome.ToString());
        var plan = outcome.Plan;
        Assert.Equal(8, plan.ShardsPerLayer); // one per GPU
        Assert.Equal(MaverickMoeLayers * 8, plan.ExpertShards.Length);
        Assert.All(plan.ExpertShards, s => Assert.Equal(16, s.Experts.Length));
        Assert.Equal(MaverickMoeLayers * 128 * MaverickFp8ExpertBytes, plan.TotalExpertBytes);
        var rank = Assert.Single(plan.AttentionRanks);
        Assert.Equal(("host-0", "cuda:0"), (rank.Silo, Assert.Single(rank.Devices)));
        Assert.Equal(2 * 14_164_792_320, rank.NonExpertBytes);
        Assert.Equal(DefaultKv(Maverick), rank.KvBytes);
        // 386.8 GB experts + 28.3 GB + 12.9 GB KV of 576 GB usable: about 148 GB stays free.
        Assert.InRange(plan.TotalFreeBytes, 147 * Gb, 149 * Gb);
        AssertPlanIsConsistent(plan);
    }

    [Fact]
    public void Maverick_Bf16_FitsTwoHosts()
    {
        var outcome = PlacementPlanner.Plan(Maverick, WeightDType.Bf16, ClusterInventory.Uniform(2, 8, H100));

        Assert.True(outcome.Fits, outcome.ToString());
        Assert.Equal(16, outcome.Plan.ShardsPerLayer);
        Assert.Equal(2, PlacementPlanner.MinimumUniformHosts(Maverick, WeightDType.Bf16, 8, H100));
        Assert.Equal(1, PlacementPlanner.MinimumUniformHosts(Maverick, WeightDType.Fp8, 8, H100));
        AssertPlanIsConsistent(outcome.Plan);
    }

    [Theory]
    [InlineData(WeightDType.Fp8)]
    [InlineData(WeightDType.Bf16)]
    public void Behemoth_NeedsSeveral8GpuHosts(WeightDType dtype)
    {
        // From the parameter counts: 88 layers × 16 experts × 3·16384·26624 parameters, the rest bf16.
        long expertParams = 3L * 16384 * 26624;
        Assert.Equal(1_308_622_848, expertParams);
        long expertBytes = dtype == WeightDType.Fp8 ? expertParams + 4 * (2 * 26624 + 16384) : 2 * expertParams;
        long routed = 88L * 16 * expertBytes;
        long nonExpert = 2 * (Behemoth.TotalParameters - 88L * 16 * expertParams);
        long needed = routed + nonExpert + DefaultKv(Behemoth);
        int lowerBound = (int)((needed + 8 * H100Usable - 1) / (8 * H100Usable));

        var one = PlacementPlanner.Plan(Behemoth, dtype, ClusterInventory.Uniform(1, 8, H100));
        Assert.False(one.Fits);
        Assert.Equal(needed, one.Shortfall.NeededBytes);
        Assert.Equal(8 * H100Usable, one.Shortfall.AvailableBytes);

        int? hosts = PlacementPlanner.MinimumUniformHosts(Behemoth, dtype, 8, H100);
        Assert.Equal(dtype == WeightDType.Fp8 ? 4 : 8, lowerBound); // ≈ 2.2 TB fp8, ≈ 4.05 TB bf16 against 576 GB per host
        Assert.Equal(lowerBound, hosts);
        Assert.False(PlacementPlanner.Plan(Behemoth, dtype, ClusterInventory.Uniform(lowerBound - 1, 8, H100)).Fits);
        var plan = PlacementPlanner.Plan(Behemoth, dtype, ClusterInventory.Uniform(lowerBound, 8, H100)).Plan!;
        // 344 GB of non-expert weights cannot sit on one 80 GB GPU: the rank is cut into pipeline stages, one device each.
        var rank = Assert.Single(plan.AttentionRanks);
        Assert.True(rank.Stages.Length >= 2, $"{rank.Stages.Length} stage(s)");
        Assert.Equal(rank.Stages.Length, rank.Stages.Select(s => (s.Silo, s.Device)).Distinct().Count());
        AssertPlanIsConsistent(plan);
    }

    [Fact]
    public void Behemoth_RankSpansSingleGpuHostsAsStages()
    {
        // 40 hosts × 1 GPU = 2880 GB usable > 2210 GB needed; one rank's 367 GB cannot sit on one GPU, but its stages
        // (one device each) can sit on several single-GPU hosts.
        var outcome = PlacementPlanner.Plan(Behemoth, WeightDType.Fp8, ClusterInventory.Uniform(40, 1, H100));

        Assert.True(outcome.Fits, outcome.ToString());
        var rank = Assert.Single(outcome.Plan.AttentionRanks);
        Assert.True(rank.Stages.Length >= 2);
        Assert.Equal(rank.Stages.Length, rank.Stages.Select(s => s.Silo).Distinct().Count());
        AssertPlanIsConsistent(outcome.Plan);
    }

    [Fact]
    public void Scout_FitsOneHostInBf16_NotOneGpu_ButTwoSingleGpuHostsInFp8()
    {
        var host = PlacementPlanner.Plan(Scout, WeightDType.Bf16, ClusterInventory.Uniform(1, 8, H100));
        Assert.True(host.Fits, host.ToString());
        Assert.Equal(8, host.Plan.ShardsPerLayer);
        AssertPlanIsConsistent(host.Plan);

        var gpu = PlacementPlanner.Plan(Scout, WeightDType.Fp8, ClusterInventory.Uniform(1, 1, H100));
        Assert.False(gpu.Fits);
        long scoutExperts = 48L * 16 * (MaverickExpertParams + 4 * (2 * 8192 + 5120));
        long scoutNonExpert = 2 * (107_769_861_120 - 48L * 16 * MaverickExpertParams);
        Assert.Equal(scoutExperts + scoutNonExpert + DefaultKv(Scout), gpu.Shortfall.NeededBytes);

        var two = PlacementPlanner.Plan(Scout, WeightDType.Fp8, ClusterInventory.Uniform(2, 1, H100));
        Assert.True(two.Fits, two.ToString());
        Assert.Equal(2, two.Plan.ShardsPerLayer);
        Assert.Equal(new[] { "host-0", "host-1" }, two.Plan.ExpertShards.Select(s => s.Silo).Distinct().Order());
        AssertPlanIsConsistent(two.Plan);
    }

    [Fact]
    public void Roles_AttentionOnAttentionSilos_ExpertsOnExpertSilos()
    {
        var config = Llama4Presets.Get("tiny-maverick");
        var inventory = new ClusterInventory(
        [
            Silo("attn", SiloRole.Attention, ("cpu", 50_000_000)),
            Silo("exp-a", SiloRole.Expert, ("cpu", 10_000_000)),
            Silo("exp-b", SiloRole.Expert, ("cuda:0", 10_000_000), ("cuda:1", 10_000_000)),
        ]);
        var plan = PlacementPlanner.Plan(config, WeightDType.Bf16, inventory).Plan!;

        Assert.Equal("attn", Assert.Single(plan.AttentionRanks).Silo);
        Assert.DoesNotContain(plan.ExpertShards, s => s.Silo == "attn");
        Assert.Equal(3, plan.ShardsPerLayer);
        Assert.All(plan.ExpertShards.GroupBy(s => s.Layer), g => Assert.Equal(3, g.Select(s => (s.Silo, s.Device)).Distinct().Count()));
        AssertPlanIsConsistent(plan);
    }

    [Fact]
    public void ShardsPerLayer_SplitsExpertsIntoContiguousShardsDifferingByAtMostOne()
    {
        var config = Llama4Presets.Get("tiny-maverick");
        var plan = PlacementPlanner.Plan(config, WeightDType.Bf16, ClusterInventory.Uniform(2, 2, 100_000_000),
            new PlacementOptions { ShardsPerLayer = 3, KvBytesPerRank = 0 }).Plan!;

        foreach (var layer in plan.ExpertShards.GroupBy(s => s.Layer))
        {
            Assert.Equal(new[] { 42, 43, 43 }, layer.OrderBy(s => s.Shard).Select(s => s.Experts.Length));
            Assert.Equal(Enumerable.Range(0, 128), layer.OrderBy(s => s.Shard).SelectMany(s => s.Experts));
            Assert.Equal(1, plan.ShardOfExpert(layer.Key, 42));
        }
        AssertPlanIsConsistent(plan);
    }

    [Fact]
    public void Replicas_EveryExpertOncePerReplica_ReplicasOnDifferentSilos()
    {
        var plan = PlacementPlanner.Plan(Scout, WeightDType.Fp8, ClusterInventory.Uniform(3, 4, H100), new PlacementOptions { Replicas = 2 }).Plan!;

        Assert.Equal(2, plan.Replicas);
        Assert.Equal(48 * 12 * 2, plan.ExpertShards.Length);
        foreach (var copies in plan.ExpertShards.GroupBy(s => (s.Layer, s.Shard)))
        {
            Assert.Equal(2, copies.Count());
            Assert.Equal(2, copies.Select(s => s.Silo).Distinct().Count());
            Assert.Equal(copies.First().Experts, copies.Last().Experts);
        }
        AssertPlanIsConsistent(plan);
    }

    [Fact]
    public void Balance_ExpertOnlyDevicesDifferByAtMostOneShard_LayersFanOut()
    {
        var plan = PlacementPlanner.Plan(Maverick, WeightDType.Fp8, ClusterInventory.Uniform(1, 8, H100)).Plan!;
        long shard = plan.ExpertShards.Max(s => s.Bytes);

        var expertOnly = plan.Memory.Where(m => m.NonExpertBytes == 0).ToList();
        Assert.Equal(7, expertOnly.Count);
        Assert.InRange(expertOnly.Max(m => m.ExpertBytes) - expertOnly.Min(m => m.ExpertBytes), 0, shard);
        // The attention GPU takes fewer experts, so that every GPU ends with about the same free memory.
        Assert.InRange(plan.Memory.Max(m => m.FreeBytes) - plan.Memory.Min(m => m.FreeBytes), 0, 2 * shard);
        Assert.All(plan.ExpertShards.GroupBy(s => s.Layer), g => Assert.True(g.Select(s => s.Device).Distinct().Count() >= 7));

        var behemoth = PlacementPlanner.Plan(Behemoth, WeightDType.Fp8, ClusterInventory.Uniform(4, 8, H100)).Plan!;
        Assert.All(behemoth.ExpertShards.GroupBy(s => s.Layer), g => Assert.Equal(g.Count(), g.Select(s => (s.Silo, s.Device)).Distinct().Count())); // 16 routed shards (+ the shared-expert shard) on distinct devices
    }

    [Fact]
    public void NoAttentionSilo_IsADoesNotFitAnswer()
    {
        var config = Llama4Presets.Get("tiny-scout");
        var outcome = PlacementPlanner.Plan(config, WeightDType.Bf16, new ClusterInventory([Silo("e", SiloRole.Expert, ("cpu", 1_000_000_000))]));

        Assert.False(outcome.Fits);
        Assert.Equal(0, outcome.Shortfall.AvailableBytes);
        Assert.Contains("role attention or all", outcome.Shortfall.Message);
    }

    [Fact]
    public void BadQuestions_AreArgumentErrors()
    {
        var tiny = Llama4Presets.Get("tiny-scout");
        var one = ClusterInventory.Uniform(1, 1, Gb);
        Assert.Throws<ArgumentException>(() => PlacementPlanner.Plan(tiny, WeightDType.Bf16, one, new PlacementOptions { ShardsPerLayer = 17 }));
        Assert.Throws<ArgumentException>(() => PlacementPlanner.Plan(tiny, WeightDType.Bf16, one, new PlacementOptions { Replicas = 2 }));
        Assert.Throws<ArgumentException>(() => PlacementPlanner.Plan(tiny, WeightDType.Bf16, one, new PlacementOptions { Headroom = 1.0 }));
        Assert.Throws<ArgumentException>(() => PlacementPlanner.Plan(tiny, WeightDType.Bf16, one, new PlacementOptions { Stages = 5 })); // 4 layers
        Assert.Throws<ArgumentException>(() => PlacementPlanner.Plan(tiny, WeightDType.Bf16, one, new PlacementOptions { Stages = 0 }));
        Assert.Throws<ArgumentException>(() => PlacementPlanner.Plan(tiny, WeightDType.Bf16,
            new ClusterInventory([Silo("a", SiloRole.All, ("cpu", 1)), Silo("a", SiloRole.All, ("cpu", 1))])));
        Assert.Throws<ArgumentException>(() => PlacementPlanner.Plan(tiny, WeightDType.Bf16, new ClusterInventory([Silo("a", SiloRole.All, ("gpu0", 1))])));
    }

    [Theory]
    [InlineData("80GB", 80_000_000_000)]
    [InlineData("80 GB", 80_000_000_000)]
    [InlineData("79.6GiB", 85_469_849_190)]
    [InlineData("512MB", 512_000_000)]
    [InlineData("2TB", 2_000_000_000_000)]
    [InlineData("1024", 1024)]
    public void ByteSize_Parses(string text, long bytes)
    {
        Assert.True(ByteSize.TryParse(text, out long parsed));
        Assert.Equal(bytes, parsed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("80XB")]
    [InlineData("-5GB")]
    [InlineData("GB")]
    public void ByteSize_RejectsNonsense(string text) => Assert.False(ByteSize.TryParse(text, out _));

    /// <summary>
    /// Every expert of every MoE layer exactly once per replica; replicas of a shard on distinct devices; the memory
    /// table agrees with the shards and ranks; no device holds more than its capacity less headroom.
    /// </summary>
    internal static void AssertPlanIsConsistent(PlacementPlan plan)
    {
        var f = plan.Footprint;
        for (int replica = 0; replica < plan.Replicas; replica++)
        {
            foreach (int layer in f.MoeLayers)
            {
                var experts = plan.ExpertShards.Where(s => s.Layer == layer && s.Replica == replica).SelectMany(s => s.Experts).Order().ToList();
                Assert.Equal(Enumerable.Range(0, f.ExpertsPerLayer), experts);
            }
        }
        long sharedBytes = 2 * f.ExpertParameters; // a shared-expert shard holds it in bf16, as the release keeps it
        Assert.All(plan.ExpertShards, s => Assert.Equal(plan.IsSharedExpertShard(s) ? sharedBytes : s.Experts.Length * f.ExpertBytes, s.Bytes));
        if (plan.SharedExperts == SharedExpertPlacement.Shards)
            Assert.Equal(f.MoeLayers.Length * plan.Replicas, plan.ExpertShards.Count(s => plan.IsSharedExpertShard(s) && s.Experts.IsEmpty));
        Assert.All(plan.ExpertShards.GroupBy(s => (s.Layer, s.Shard)), g => Assert.Equal(g.Count(), g.Select(s => (s.Silo, s.Device)).Distinct().Count()));
        Assert.Equal(plan.Inventory.DeviceCount, plan.Memory.Length);
        foreach (var m in plan.Memory)
        {
            Assert.Equal(plan.ExpertShards.Where(s => s.Silo == m.Silo && s.Device == m.Device).Sum(s => s.Bytes), m.ExpertBytes);
            Assert.Equal(plan.ExpertShards.Count(s => s.Silo == m.Silo && s.Device == m.Device), m.ExpertShards);
            Assert.True(m.UsedBytes + m.HeadroomBytes <= m.CapacityBytes, $"{m.Silo}/{m.Device} holds {m.UsedBytes} + {m.HeadroomBytes} headroom > {m.CapacityBytes}");
            Assert.True(m.FreeBytes >= 0);
            var device = plan.Inventory.Find(m.Silo)!.Devices.Single(d => d.Device == m.Device);
            Assert.Equal(device.MemoryBytes, m.CapacityBytes);
        }
        Assert.Equal(plan.AttentionRanks.Sum(r => r.NonExpertBytes), plan.Memory.Sum(m => m.NonExpertBytes));
        Assert.Equal(plan.AttentionRanks.Sum(r => r.KvBytes), plan.Memory.Sum(m => m.KvBytes));
        long rankWeights = f.NonExpertBytes - (plan.SharedExperts == SharedExpertPlacement.Shards ? f.MoeLayers.Length * sharedBytes : 0);
        Assert.All(plan.AttentionRanks, r => Assert.Equal(rankWeights, r.NonExpertBytes));
        AssertStagesAreConsistent(plan);
        Assert.Equal(Enumerable.Range(0, plan.AttentionRanks.Length), plan.AttentionRanks.Select(r => r.Rank));
    }

    /// <summary>Every rank's stages: the runtime's cut, one device each, bytes that add up, and every device's attention bytes are its stages'.</summary>
    internal static void AssertStagesAreConsistent(PlacementPlan plan)
    {
        int k = plan.StagesPerRank;
        var cut = StageLayers.Split(plan.Footprint.Layers, k);
        foreach (var rank in plan.AttentionRanks)
        {
            Assert.Equal(k, rank.Stages.Length);
            Assert.Equal(Enumerable.Range(0, k), rank.Stages.Select(s => s.Stage));
            Assert.Equal(cut, rank.Stages.Select(s => s.Layers));
            Assert.Equal(rank.NonExpertBytes, rank.Stages.Sum(s => s.WeightBytes));
            Assert.Equal(rank.KvBytes, rank.Stages.Sum(s => s.KvBytes));
            Assert.Equal((rank.Silo, rank.Stages[0].Device), (rank.Stages[0].Silo, Assert.Single(rank.Devices)));
            Assert.All(rank.Stages, s => Assert.NotNull(plan.Inventory.Find(s.Silo)!.Devices.SingleOrDefault(d => d.Device == s.Device)));
        }
        var stages = plan.AttentionRanks.SelectMany(r => r.Stages).ToList();
        foreach (var m in plan.Memory)
        {
            Assert.Equal(stages.Where(s => s.Silo == m.Silo && s.Device == m.Device).Sum(s => s.WeightBytes), m.NonExpertBytes);
            Assert.Equal(stages.Where(s => s.Silo == m.Silo && s.Device == m.Device).Sum(s => s.KvBytes), m.KvBytes);
        }
    }

    internal static SiloInventory Silo(string name, SiloRole role, params (string Device, long Bytes)[] devices) =>
        new(name, null, role, [.. devices.Select(d => new DeviceInventory(d.Device, d.Bytes))]);
}

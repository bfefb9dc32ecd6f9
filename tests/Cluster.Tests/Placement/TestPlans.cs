using System.Collections.Immutable;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Tests.Placement;

/// <summary>Plans the placement tests share; also linked into Silos.Tests (plan files, the engine's plan checks).</summary>
internal static class TestPlans
{
    public const long H100 = 80 * ByteSize.GB;

    public static PlacementPlan MaverickFp8() =>
        PlacementPlanner.Plan(Llama4Presets.Get("maverick"), WeightDType.Fp8, ClusterInventory.Uniform(1, 8, H100)).Plan!;

    /// <summary>Tiny-scout on an attention silo and two expert silos, one with an endpoint (as the in-process cluster test plans it).</summary>
    public static PlacementPlan Tiny()
    {
        var cpu = ImmutableArray.Create(new DeviceInventory("cpu", ByteSize.GB));
        var inventory = new ClusterInventory(
        [
            new SiloInventory("attn", null, SiloRole.Attention, cpu),
            new SiloInventory("exp-0", "127.0.0.1:11111", SiloRole.Expert, cpu),
            new SiloInventory("exp-1", null, SiloRole.Expert, cpu),
        ]);
        return PlacementPlanner.Plan(Llama4Presets.TinyScout, WeightDType.Bf16, inventory, new PlacementOptions { ShardsPerLayer = 2 }).Plan!;
    }

    /// <summary>
    /// Tiny-behemoth with each of 2 ranks cut into 3 pipeline stages over 3 attention silos (one stage of each rank per
    /// silo), 2 routed shards per MoE layer plus, by default, the shared-expert shard on an expert silo.
    /// </summary>
    public static PlacementPlan TinyStaged(SharedExpertPlacement sharedExperts = SharedExpertPlacement.Shards)
    {
        var cpu = ImmutableArray.Create(new DeviceInventory("cpu", ByteSize.GB));
        var inventory = new ClusterInventory(
        [
            .. Enumerable.Range(0, 3).Select(i => new SiloInventory($"attn-{i}", null, SiloRole.Attention, cpu)),
            new SiloInventory("exp", null, SiloRole.Expert, cpu),
        ]);
        return PlacementPlanner.Plan(Llama4Presets.TinyBehemoth, WeightDType.Bf16, inventory, new PlacementOptions
        {
            Stages = 3, AttentionRanks = 2, ShardsPerLayer = 2, SharedExperts = sharedExperts, KvBytesPerRank = 1 << 20,
        }).Plan!;
    }
}

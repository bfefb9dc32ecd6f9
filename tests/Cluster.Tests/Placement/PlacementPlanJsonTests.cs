using System.Collections.Immutable;
using System.Reflection;
using System.Text.Json;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Silos.Engine;
using Llama4Cluster.Silos.Placement;

namespace Llama4Cluster.Silos.Tests.Placement;

public sealed class PlacementPlanJsonTests
{
    private const long H100 = 80 * ByteSize.GB;

    internal static PlacementPlan MaverickFp8() =>
        PlacementPlanner.Plan(Llama4Presets.Get("maverick"), WeightDType.Fp8, ClusterInventory.Uniform(1, 8, H100)).Plan!;

    /// <summary>Tiny-scout on an attention silo and two expert silos, one with an endpoint (as the in-process cluster test plans it).</summary>
    internal static PlacementPlan Tiny()
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

    public static TheoryData<string> Plans => new() { "maverick-fp8", "tiny" };

    private static PlacementPlan Get(string name) => name == "tiny" ? Tiny() : MaverickFp8();

    [Theory]
    [MemberData(nameof(Plans))]
    public void RoundTripsExactly(string name)
    {
        var plan = Get(name);
        string json = PlacementPlanJson.Serialize(plan);
        var back = PlacementPlanJson.Deserialize(json);

        Assert.Equal(json, PlacementPlanJson.Serialize(back));
        Assert.Equal(plan.Footprint with { MoeLayers = [] }, back.Footprint with { MoeLayers = [] });
        Assert.Equal(plan.Footprint.MoeLayers.ToArray(), back.Footprint.MoeLayers.ToArray());
        Assert.Equal(plan.ShardsPerLayer, back.ShardsPerLayer);
        Assert.Equal(plan.Replicas, back.Replicas);
        Assert.Equal(plan.Headroom, back.Headroom);
        Assert.Equal(plan.KvBytesPerRank, back.KvBytesPerRank);
        Assert.Equal(plan.Memory.ToArray(), back.Memory.ToArray());
        Assert.Equal(plan.Inventory.Silos.Select(s => (s.Name, s.Address, s.Role)), back.Inventory.Silos.Select(s => (s.Name, s.Address, s.Role)));
        Assert.Equal(plan.Inventory.Silos.SelectMany(s => s.Devices), back.Inventory.Silos.SelectMany(s => s.Devices));
        Assert.Equal(plan.ExpertShards.Length, back.ExpertShards.Length);
        for (int i = 0; i < plan.ExpertShards.Length; i++)
        {
            Assert.Equal(plan.ExpertShards[i] with { Experts = [] }, back.ExpertShards[i] with { Experts = [] });
            Assert.Equal(plan.ExpertShards[i].Experts.ToArray(), back.ExpertShards[i].Experts.ToArray());
        }
        Assert.Equal(plan.AttentionRanks.Select(r => (r.Rank, r.Silo, string.Join(",", r.Devices), r.NonExpertBytes, r.KvBytes)),
            back.AttentionRanks.Select(r => (r.Rank, r.Silo, string.Join(",", r.Devices), r.NonExpertBytes, r.KvBytes)));
        Assert.Equal(plan.Summary, back.Summary);
    }

    [Fact]
    public void IsReadableAndHoldsOnlyStoredMembers()
    {
        string json = PlacementPlanJson.Serialize(MaverickFp8());
        Assert.Contains("\"shardsPerLayer\": 8", json, StringComparison.Ordinal);
        Assert.Contains("\"dType\": \"fp8\"", json, StringComparison.Ordinal);
        Assert.Contains("\"role\": \"all\"", json, StringComparison.Ordinal);
        Assert.Contains('\n', json);
        foreach (var derived in new[] { "summary", "totalExpertBytes", "freeBytes", "usedBytes", "key", "deviceCount", "routedExpertBytes" })
            Assert.DoesNotContain($"\"{derived}\"", json, StringComparison.Ordinal);
    }

    [Fact]
    public void RejectsUnknownAndMissingMembers()
    {
        string json = PlacementPlanJson.Serialize(Tiny());
        Assert.Throws<JsonException>(() => PlacementPlanJson.Deserialize(json.Replace("\"replicas\"", "\"replicaz\"", StringComparison.Ordinal)));
        Assert.Throws<JsonException>(() => PlacementPlanJson.Deserialize("{}"));
    }

    [Fact]
    public void ClusterEngineTakesShardsAndRanksFromThePlan()
    {
        var plan = Tiny();
        var engine = new ClusterEngine(NoGrains(), Llama4Presets.TinyScout, plan);
        Assert.Equal(plan.ShardsPerLayer, engine.ShardsPerLayer);
        Assert.Equal(2, engine.ShardsPerLayer);
        Assert.Equal(plan.AttentionRanks.Length, engine.AttentionRanks);

        var e = Assert.Throws<ArgumentException>(() => new ClusterEngine(NoGrains(), Llama4Presets.TinyMaverick, plan));
        Assert.Contains("experts", e.Message, StringComparison.Ordinal);
    }

    private static IGrainFactory NoGrains() => DispatchProxy.Create<IGrainFactory, NoGrainFactory>();

    public class NoGrainFactory : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            throw new NotSupportedException("no grains in this test");
    }
}

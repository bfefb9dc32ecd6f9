using System.Collections.Immutable;
using System.Text.Json;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cluster.Tests.Placement;

public sealed class PlacementPlanJsonTests
{
    public static TheoryData<string> Plans => new() { "maverick-fp8", "tiny" };

    private static PlacementPlan Get(string name) => name == "tiny" ? TestPlans.Tiny() : TestPlans.MaverickFp8();

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
        string json = PlacementPlanJson.Serialize(TestPlans.MaverickFp8());
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
        string json = PlacementPlanJson.Serialize(TestPlans.Tiny());
        Assert.Throws<JsonException>(() => PlacementPlanJson.Deserialize(json.Replace("\"replicas\"", "\"replicaz\"", StringComparison.Ordinal)));
        Assert.Throws<JsonException>(() => PlacementPlanJson.Deserialize("{}"));
    }
}

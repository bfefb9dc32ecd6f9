using System.Collections.Immutable;
using System.Text.Json;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cluster.Tests.Placement;

public sealed class PlacementPlanJsonTests
{
    public static TheoryData<string> Plans => new() { "maverick-fp8", "tiny", "staged" };

    private static PlacementPlan Get(string name) => name switch
    {
        "tiny" => TestPlans.Tiny(),
        "staged" => TestPlans.TinyStaged(),
        _ => TestPlans.MaverickFp8(),
    };

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
        Assert.Equal(plan.AttentionRanks.SelectMany(r => r.Stages), back.AttentionRanks.SelectMany(r => r.Stages));
        Assert.Equal(plan.StagesPerRank, back.StagesPerRank);
        Assert.Equal(plan.SharedExperts, back.SharedExperts);
        Assert.Equal(plan.Summary, back.Summary);
    }

    [Fact]
    public void StagesAndSharedExperts_AreWritten()
    {
        string json = PlacementPlanJson.Serialize(TestPlans.TinyStaged());
        Assert.Contains("\"sharedExperts\": \"shards\"", json, StringComparison.Ordinal);
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!;
        var stages = node["attentionRanks"]![1]!["stages"]!.AsArray();
        Assert.Equal(3, stages.Count);
        Assert.Equal(["stage", "silo", "device", "firstLayer", "layerCount", "weightBytes", "kvBytes"], stages[2]!.AsObject().Select(p => p.Key).ToArray());
        Assert.Equal((2, 6, 2), (stages[2]!["stage"]!.GetValue<int>(), stages[2]!["firstLayer"]!.GetValue<int>(), stages[2]!["layerCount"]!.GetValue<int>()));
    }

    [Fact]
    public void APlanWrittenBeforeStages_ReadsAsOneStagePerRank_SharedExpertsOnTheRank()
    {
        var plan = TestPlans.Tiny();
        var node = System.Text.Json.Nodes.JsonNode.Parse(PlacementPlanJson.Serialize(plan))!.AsObject();
        node.Remove("sharedExperts");
        foreach (var rank in node["attentionRanks"]!.AsArray()) rank!.AsObject().Remove("stages");

        var old = PlacementPlanJson.Deserialize(node.ToJsonString());

        Assert.Equal(SharedExpertPlacement.Rank, old.SharedExperts);
        Assert.Equal(1, old.StagesPerRank);
        Assert.Equal(plan.AttentionRanks.SelectMany(r => r.Stages), old.AttentionRanks.SelectMany(r => r.Stages));
    }

    [Fact]
    public void AStagedPlanWhoseLayersAreNotTheRuntimesCut_IsRefusedWhenLoaded()
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(PlacementPlanJson.Serialize(TestPlans.TinyStaged()))!;
        var stages = node["attentionRanks"]![0]!["stages"]!.AsArray();
        stages[0]!["layerCount"] = 2; // 8 layers in 3 stages are 3 + 3 + 2
        stages[1]!["firstLayer"] = 2;
        stages[1]!["layerCount"] = 4;
        string file = Path.Combine(Path.GetTempPath(), $"l4c-bad-stages-{Guid.NewGuid():N}.json");
        try
        {
            File.WriteAllText(file, node.ToJsonString());
            var e = Assert.Throws<PlacementPlanFileException>(() => PlacementPlanJson.Load(file, Llama4Presets.TinyBehemoth));
            Assert.Contains("stage 0 holds layers 0..1 but the runtime's 3-stage cut gives it layers 0..2", e.Message);
            File.WriteAllText(file, PlacementPlanJson.Serialize(TestPlans.TinyStaged()));
            Assert.Equal(3, PlacementPlanJson.Load(file, Llama4Presets.TinyBehemoth).StagesPerRank);
        }
        finally
        {
            File.Delete(file);
        }
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

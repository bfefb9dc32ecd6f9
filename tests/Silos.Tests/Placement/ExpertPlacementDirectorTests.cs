using System.Net;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Llama4Cluster.Silos.Tests.Placement;

public sealed class ExpertPlacementDirectorTests
{
    private static readonly SiloAddress Attention = Silo(11111);
    private static readonly SiloAddress ExpertA = Silo(11112);
    private static readonly SiloAddress ExpertB = Silo(11113);
    private static readonly SiloAddress Stranger = Silo(11119);

    /// <summary>tiny-maverick on one attention silo and two expert silos (3 devices): 2 MoE layers × 3 shards.</summary>
    private static readonly PlacementPlan Plan = PlacementPlanner.Plan(Llama4Presets.Get("tiny-maverick"), WeightDType.Bf16, new ClusterInventory(
    [
        new SiloInventory("attn", "127.0.0.1:11111", SiloRole.Attention, [new DeviceInventory("cpu", 100_000_000)]),
        new SiloInventory("exp-a", "127.0.0.1:11112", SiloRole.Expert, [new DeviceInventory("cpu", 10_000_000)]),
        new SiloInventory("exp-b", "127.0.0.1:11113@7", SiloRole.Expert, [new DeviceInventory("cuda:0", 10_000_000), new DeviceInventory("cuda:1", 10_000_000)]),
    ])).Plan!;

    [Fact]
    public async Task PlacesEveryPlannedGrainOnItsPlannedSilo()
    {
        var director = Director(Plan);
        var context = new FakePlacementContext(Attention, Attention, ExpertA, ExpertB, Stranger);
        Assert.Equal(6, Plan.ExpertShards.Length);

        foreach (var shard in Plan.ExpertShards)
        {
            var silo = await director.OnAddActivation(ExpertPlacement.Singleton, Target(shard.Key.ToString()), context);
            Assert.Equal(shard.Silo == "exp-a" ? ExpertA : ExpertB, silo);
        }
        var rank = await director.OnAddActivation(ExpertPlacement.Singleton, Target("attention/0"), context);
        Assert.Equal(Attention, rank);
        Assert.Equal(7, context.Calls); // it starts from the compatible silos every time
    }

    [Fact]
    public async Task MatchesTheEndpoint_WhateverTheSiloGeneration()
    {
        var restartedB = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11113), 99);
        var shard = Plan.ExpertShards.First(s => s.Silo == "exp-b");

        var silo = await Director(Plan).OnAddActivation(ExpertPlacement.Singleton, Target(shard.Key.ToString()), new FakePlacementContext(Attention, Attention, ExpertA, restartedB));

        Assert.Equal(restartedB, silo);
    }

    [Fact]
    public async Task ReplicaZeroKeyWithoutReplicaSegment_IsAccepted()
    {
        var shard = Plan.ExpertShards.First(s => s.Silo == "exp-a");
        var silo = await Director(Plan).OnAddActivation(ExpertPlacement.Singleton, Target($"expert/{shard.Layer}/{shard.Shard}"), new FakePlacementContext(Attention, Attention, ExpertA, ExpertB));
        Assert.Equal(ExpertA, silo);
    }

    [Fact]
    public async Task HonoursAValidPlacementHint()
    {
        var shard = Plan.ExpertShards.First(s => s.Silo == "exp-a");
        var context = new FakePlacementContext(Attention, Attention, ExpertA, ExpertB);

        var silo = await Director(Plan).OnAddActivation(ExpertPlacement.Singleton, Target(shard.Key.ToString(), hint: ExpertB), context);

        Assert.Equal(ExpertB, silo);
    }

    [Fact]
    public async Task IgnoresAHintThatIsNotCompatible()
    {
        var shard = Plan.ExpertShards.First(s => s.Silo == "exp-a");
        var context = new FakePlacementContext(Attention, Attention, ExpertA, ExpertB);

        var silo = await Director(Plan).OnAddActivation(ExpertPlacement.Singleton, Target(shard.Key.ToString(), hint: Stranger), context);

        Assert.Equal(ExpertA, silo);
    }

    [Fact]
    public async Task FailsClearly_WhenThePlannedSiloIsNotCompatible()
    {
        var shard = Plan.ExpertShards.First(s => s.Silo == "exp-b");
        var context = new FakePlacementContext(Attention, Attention, ExpertA);

        var e = await Assert.ThrowsAsync<OrleansException>(() => Director(Plan).OnAddActivation(ExpertPlacement.Singleton, Target(shard.Key.ToString()), context));

        Assert.Contains("'exp-b' (127.0.0.1:11113@7)", e.Message);
        Assert.Contains("not among the 2 compatible active silo(s)", e.Message);
        Assert.Contains(shard.Key.Describe(), e.Message);
        Assert.Contains("AnyCompatible", e.Message);
    }

    [Fact]
    public async Task FallsBackToACompatibleExpertSilo_WhenConfiguredTo()
    {
        var shard = Plan.ExpertShards.First(s => s.Silo == "exp-b");
        var context = new FakePlacementContext(Attention, Attention, ExpertA, Stranger);
        var director = Director(Plan, PlannedSiloMissing.AnyCompatible);

        var first = await director.OnAddActivation(ExpertPlacement.Singleton, Target(shard.Key.ToString()), context);
        var again = await director.OnAddActivation(ExpertPlacement.Singleton, Target(shard.Key.ToString()), context);

        Assert.Equal(ExpertA, first); // the only compatible silo whose inventory role holds experts
        Assert.Equal(first, again);
    }

    [Theory]
    [InlineData("expert/9/0/0", "has no expert shard (layer 9, shard 0, replica 0)")]
    [InlineData("expert/1/3/0", "has no expert shard (layer 1, shard 3, replica 0)")]
    [InlineData("attention/1", "has no attention rank 1")]
    [InlineData("layer-1", "is not a placement key")]
    public async Task FailsClearly_ForKeysTheDirectorCannotPlace(string key, string message)
    {
        var e = await Assert.ThrowsAsync<OrleansException>(() =>
            Director(Plan).OnAddActivation(ExpertPlacement.Singleton, Target(key), new FakePlacementContext(Attention, Attention, ExpertA, ExpertB)));
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public async Task WithoutAPlan_SpreadsOverTheCompatibleSilos_StablyPerKey()
    {
        var noPlan = new ExpertPlacementDirector(new NoPlacementPlanProvider(), Options.Create(new ExpertPlacementOptions()), NullLogger<ExpertPlacementDirector>.Instance);
        var chosen = new HashSet<SiloAddress>();
        for (int shard = 0; shard < 12; shard++)
        {
            var first = await noPlan.OnAddActivation(ExpertPlacement.Singleton, Target($"1/{shard}"), new FakePlacementContext(Attention, Attention, ExpertA, ExpertB));
            var again = await noPlan.OnAddActivation(ExpertPlacement.Singleton, Target($"1/{shard}"), new FakePlacementContext(Attention, ExpertB, Attention, ExpertA));
            Assert.Equal(first, again);
            chosen.Add(first);
        }
        Assert.True(chosen.Count > 1, "12 shards should not all land on one of 3 silos");
    }

    [Fact]
    public async Task FailsClearly_WithoutCompatibleSilos()
    {
        var e = await Assert.ThrowsAsync<OrleansException>(() => Director(Plan).OnAddActivation(ExpertPlacement.Singleton, Target("attention/0"), new FakePlacementContext(Attention)));
        Assert.Contains("no active silo supports this grain type", e.Message);
    }

    [Fact]
    public async Task PlacesTheClusterGrainsByTheirOwnKeys_LayerSlashShard_AndIntegerRank()
    {
        var director = Director(Plan);
        var context = new FakePlacementContext(Attention, Attention, ExpertA, ExpertB);
        foreach (var shard in Plan.ExpertShards)
        {
            var silo = await director.OnAddActivation(ExpertPlacement.Singleton, Target($"{shard.Layer}/{shard.Shard}"), context);
            Assert.Equal(shard.Silo == "exp-a" ? ExpertA : ExpertB, silo);
        }
        var rank = new PlacementTarget(GrainId.Create(GrainType.Create("l4c-attention"), GrainIdKeyExtensions.CreateIntegerKey(0)), null!, default, 0);
        Assert.Equal(Attention, await director.OnAddActivation(ExpertPlacement.Singleton, rank, context));

        Assert.True(PlacementKey.TryFromGrainId(GrainId.Create(GrainType.Create("l4c-attention"), GrainIdKeyExtensions.CreateIntegerKey(17)), out var key));
        Assert.Equal(PlacementKey.ForAttentionRank(17), key);
        Assert.Equal(PlacementKey.ForExpertShard(3, 1), PlacementKey.Parse("3/1"));
    }

    [Fact]
    public void PlacementKeys_RoundTrip()
    {
        Assert.Equal("expert/47/3/1", PlacementKey.ForExpertShard(47, 3, 1).ToString());
        Assert.Equal(PlacementKey.ForExpertShard(47, 3, 1), PlacementKey.Parse("expert/47/3/1"));
        Assert.Equal(PlacementKey.ForExpertShard(5, 2), PlacementKey.Parse("expert/5/2"));
        Assert.Equal(PlacementKey.ForAttentionRank(4), PlacementKey.Parse("attention/4"));
        Assert.False(PlacementKey.TryParse("expert/-1/2", out _));
        Assert.False(PlacementKey.TryParse("attention/x", out _));
    }

    [Fact]
    public void HostingExtension_RegistersStrategyAndDirectorOnce_AndValidatesOptions()
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Llama4:Placement:WhenPlannedSiloMissing"] = "AnyCompatible",
        }).Build());
        services.AddLogging();
        services.AddSingleton<IPlacementPlanProvider>(new StaticPlacementPlanProvider(Plan));
        services.AddExpertPlacement();
        services.AddExpertPlacement();

        Assert.Single(services, d => d.ServiceType == typeof(IPlacementDirector));
        using var provider = services.BuildServiceProvider();
        Assert.IsType<ExpertPlacementDirector>(provider.GetRequiredKeyedService<IPlacementDirector>(typeof(ExpertPlacement)));
        Assert.Equal(PlannedSiloMissing.AnyCompatible, provider.GetRequiredService<IOptions<ExpertPlacementOptions>>().Value.WhenPlannedSiloMissing);

        var invalid = new ExpertPlacementOptionsValidator().Validate(null, new ExpertPlacementOptions { WhenPlannedSiloMissing = (PlannedSiloMissing)7 });
        Assert.True(invalid.Failed);
        Assert.Contains("AnyCompatible", invalid.FailureMessage);
    }

    [Fact]
    public async Task WithoutAPlan_GrainsGoOnlyToSilosWhoseAdvertisedRoleCanHoldThem()
    {
        var roles = new FakeMetadata(new() { [Attention] = "attention", [ExpertA] = "expert", [ExpertB] = "expert" });
        var director = new ExpertPlacementDirector(new NoPlacementPlanProvider(), Options.Create(new ExpertPlacementOptions()),
            NullLogger<ExpertPlacementDirector>.Instance, metadata: roles);
        var context = new FakePlacementContext(Attention, Attention, ExpertA, ExpertB);

        var shardSilos = new HashSet<SiloAddress>();
        for (int layer = 0; layer < 8; layer++)
            for (int shard = 0; shard < 4; shard++)
                shardSilos.Add(await director.OnAddActivation(ExpertPlacement.Singleton, Target($"expert/{layer}/{shard}"), context));
        Assert.Equal(new HashSet<SiloAddress> { ExpertA, ExpertB }, shardSilos); // spread over both expert silos, never the attention silo
        for (int rank = 0; rank < 4; rank++)
            Assert.Equal(Attention, await director.OnAddActivation(ExpertPlacement.Singleton, Target($"attention/{rank}"), context));

        // A silo that advertises no role counts as 'all'; with only expert silos an attention rank has nowhere to go.
        var unknown = new FakeMetadata(new() { [ExpertA] = "expert" });
        var anyRole = new ExpertPlacementDirector(new NoPlacementPlanProvider(), Options.Create(new ExpertPlacementOptions()),
            NullLogger<ExpertPlacementDirector>.Instance, metadata: unknown);
        Assert.Equal(Stranger, await anyRole.OnAddActivation(ExpertPlacement.Singleton, Target("attention/0"), new FakePlacementContext(Attention, ExpertA, Stranger)));
        var e = await Assert.ThrowsAsync<OrleansException>(() =>
            director.OnAddActivation(ExpertPlacement.Singleton, Target("attention/0"), new FakePlacementContext(Attention, ExpertA, ExpertB)));
        Assert.Contains("role attention or all", e.Message);
        Assert.Contains("expert", e.Message);
    }

    private sealed class FakeMetadata(Dictionary<SiloAddress, string> roles) : Orleans.Runtime.MembershipService.SiloMetadata.ISiloMetadataCache
    {
        public Orleans.Runtime.MembershipService.SiloMetadata.SiloMetadata GetSiloMetadata(SiloAddress siloAddress)
        {
            // Orleans fills SiloMetadata through an internal method (from the silo's options); a fake has to do the same.
            var metadata = new Orleans.Runtime.MembershipService.SiloMetadata.SiloMetadata();
            if (roles.TryGetValue(siloAddress, out var role))
            {
                typeof(Orleans.Runtime.MembershipService.SiloMetadata.SiloMetadata)
                    .GetMethod("AddMetadata", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic, [typeof(string), typeof(string)])!
                    .Invoke(metadata, [SiloMetadataKeys.Role, role]);
            }
            return metadata;
        }
    }

    private static ExpertPlacementDirector Director(PlacementPlan plan, PlannedSiloMissing missing = PlannedSiloMissing.Fail) =>
        new(new StaticPlacementPlanProvider(plan), Options.Create(new ExpertPlacementOptions { WhenPlannedSiloMissing = missing }), NullLogger<ExpertPlacementDirector>.Instance);

    private static PlacementTarget Target(string key, SiloAddress? hint = null) =>
        new(GrainId.Create("expertshard", key),
            hint is null ? null! : new Dictionary<string, object> { [IPlacementDirector.PlacementHintKey] = hint },
            default,
            0);

    private static SiloAddress Silo(int port) => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, port), 1);
}

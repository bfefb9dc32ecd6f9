using Llama4Cluster.Silos.Model;
using System.Collections.Concurrent;
using System.Collections.Immutable;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// Tiny-scout on the 3 in-process silos placed by a <see cref="PlacementPlan"/>: the first silo is an <c>attention</c>
/// silo, the other two <c>expert</c> silos (each silo's <c>Llama4:Role</c> and the plan's inventory agree), the
/// plan made by <see cref="PlacementPlanner"/> over their real endpoints once they are up, before any grain activates.
/// </summary>
public sealed class PlannedTinyScoutClusterFixture() : TinyClusterFixture(Llama4Presets.TinyScout)
{
    private readonly ConcurrentDictionary<string, SiloRole> _roles = new();
    private readonly SettablePlanProvider _plans = new();

    public PlacementPlan Plan => _plans.Current!;

    protected override void ConfigureSilo(string siloName, ISiloBuilder silo)
    {
        // Exactly one attention silo whatever order (or concurrency) the silos are configured in;
        // GetOrAdd with an IsEmpty check let two concurrent silos both become attention silos.
        SiloRole role;
        lock (_roles)
        {
            if (!_roles.TryGetValue(siloName, out role))
            {
                role = _roles.Values.Contains(SiloRole.Attention) ? SiloRole.Expert : SiloRole.Attention;
                _roles[siloName] = role;
            }
        }
        silo.Services.Configure<Llama4Cluster.Silos.Model.ClusterModelOptions>(o => o.Role = role.ToText());
        silo.Services.AddSingleton<IPlacementPlanProvider>(_plans);
    }

    protected override Task OnDeployedAsync()
    {
        var inventory = new ClusterInventory(Cluster.Silos
            .Select(s => new SiloInventory(s.Name, s.SiloAddress.Endpoint.ToString(), _roles[s.Name], [new DeviceInventory("cpu", 1L << 30)]))
            .ToImmutableArray());
        var outcome = PlacementPlanner.Plan(Config, WeightDType.Bf16, inventory, new PlacementOptions
        {
            AttentionRanks = Ranks,
            ShardsPerLayer = ShardsPerLayer,
            KvBytesPerRank = 1 << 20,
        });
        _plans.Current = outcome.Plan ?? throw new InvalidOperationException($"the test plan does not fit: {outcome}");
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class PlannedTinyScoutCluster : ICollectionFixture<PlannedTinyScoutClusterFixture>
{
    public const string Name = "tiny-scout cluster placed by a plan";
}

[Collection(PlannedTinyScoutCluster.Name)]
public sealed class PlannedClusterPlacementTests(PlannedTinyScoutClusterFixture fixture)
{
    private string SiloOf(string planSilo) => fixture.Cluster.Silos.Single(s => s.Name == planSilo).SiloAddress.ToString();

    [Fact]
    public void EveryExpertShardActivatedOnItsPlannedSilo_WithThePlannedExperts()
    {
        var plan = fixture.Plan;
        var shards = fixture.Loaded.Shards;
        Assert.Equal(plan.ExpertShards.Length, shards.Count);
        Assert.All(plan.ExpertShards, s => Assert.Equal(SiloRole.Expert, plan.Inventory.Find(s.Silo)!.Role));
        Assert.True(plan.ExpertShards.Select(s => s.Silo).Distinct().Count() > 1, "the plan should use both expert silos");
        foreach (var info in shards)
        {
            var planned = plan.FindShard(info.Layer, info.Shard)!;
            Assert.Equal(SiloOf(planned.Silo), info.Silo);
            Assert.Equal(planned.Experts.Order(), info.ExpertIds);
        }
    }

    [Fact]
    public void EverySiloAdvertisesItsRoleDeviceAndDTypeThroughOrleansSiloMetadata()
    {
        var cache = fixture.Cluster.Silos[0].ServiceProvider
            .GetRequiredService<Orleans.Runtime.MembershipService.SiloMetadata.ISiloMetadataCache>();
        foreach (var silo in fixture.Cluster.Silos)
        {
            var advertised = cache.GetSiloMetadata(silo.SiloAddress).Metadata;
            Assert.Equal(fixture.Plan.Inventory.Find(silo.Name)!.Role.ToText(), advertised[SiloMetadataKeys.Role]);
            Assert.Equal("cpu", advertised[SiloMetadataKeys.Device]);
            Assert.Equal("float32", advertised[SiloMetadataKeys.DType]);
        }
    }

    [Fact]
    public void EveryAttentionRankActivatedOnItsPlannedSilo()
    {
        var plan = fixture.Plan;
        Assert.Equal(TinyClusterFixture.Ranks, fixture.Loaded.Ranks.Count);
        foreach (var info in fixture.Loaded.Ranks)
            Assert.Equal(SiloOf(plan.FindRank(info.Rank)!.Silo), info.Silo);
    }
}

[Collection(PlannedTinyScoutCluster.Name)]
public sealed class PlannedTinyScoutClusterEquivalenceTests(PlannedTinyScoutClusterFixture fixture) : ClusterEquivalenceTests<PlannedTinyScoutClusterFixture>(fixture);

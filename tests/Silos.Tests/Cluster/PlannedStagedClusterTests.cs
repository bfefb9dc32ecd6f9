using System.Collections.Immutable;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// Tiny-behemoth on the 3 in-process silos placed by a plan that <see cref="PlacementPlanner"/> made with 3 pipeline stages
/// per rank and the shared experts as shards (over the silos' real endpoints, before any grain activates): every stage
/// grain and every shared-expert shard activates on the silo the plan names (on the device it names: <c>--device plan</c>),
/// and the cluster still equals
/// <see cref="Kernels.Engine.LocalEngine"/> with one hand-off per stage boundary.
/// </summary>
public sealed class PlannedTinyBehemothStagedClusterFixture() : TinyClusterFixture(Llama4Presets.TinyBehemoth, stages: 3,
    sharedExperts: SharedExpertPlacement.Shards)
{
    private readonly SettablePlanProvider _plans = new();

    public PlacementPlan Plan => _plans.Current!;

    // --device plan: every grain on the device the plan names for it (here each silo's one "cpu").
    protected override void ConfigureSilo(string siloName, ISiloBuilder silo)
    {
        silo.Services.AddSingleton<IPlacementPlanProvider>(_plans);
        silo.Services.Configure<Llama4Cluster.Silos.Model.ClusterModelOptions>(o => o.Device = Llama4Cluster.Silos.Model.SiloModelContext.PlanDevice);
    }

    protected override Task OnDeployedAsync()
    {
        var inventory = new ClusterInventory(Cluster.Silos
            .Select(s => new SiloInventory(s.Name, s.SiloAddress.Endpoint.ToString(), SiloRole.All, [new DeviceInventory("cpu", 1L << 30)]))
            .ToImmutableArray());
        var outcome = PlacementPlanner.Plan(Config, WeightDType.Bf16, inventory, new PlacementOptions
        {
            AttentionRanks = Ranks,
            Stages = Stages,
            ShardsPerLayer = ShardsPerLayer,
            SharedExperts = SharedExperts,
            KvBytesPerRank = 1 << 20,
        });
        _plans.Current = outcome.Plan ?? throw new InvalidOperationException($"the test plan does not fit: {outcome}");
        return Task.CompletedTask;
    }
}

[CollectionDefinition(Name)]
public sealed class PlannedTinyBehemothStagedCluster : ICollectionFixture<PlannedTinyBehemothStagedClusterFixture>
{
    public const string Name = "tiny-behemoth cluster, 3 stages per rank and shared-expert shards, placed by a plan";
}

[Collection(PlannedTinyBehemothStagedCluster.Name)]
public sealed class PlannedTinyBehemothStagedClusterTests(PlannedTinyBehemothStagedClusterFixture fixture)
    : StagedClusterTests<PlannedTinyBehemothStagedClusterFixture>(fixture)
{
    [Fact]
    public async Task EveryStageActivatedOnItsPlannedSilo()
    {
        var plan = Fixture.Plan;
        Assert.Equal(3, plan.StagesPerRank);
        foreach (var rank in plan.AttentionRanks)
        {
            foreach (var stage in rank.Stages)
            {
                var info = stage.Stage == 0
                    ? await Fixture.Cluster.Client.GetGrain<IAttentionGrain>(rank.Rank).DescribeAsync()
                    : await Fixture.Cluster.Client.GetGrain<IAttentionStageGrain>(PlacementKey.ForAttentionStage(rank.Rank, stage.Stage).ToString()).DescribeAsync();
                var planned = Fixture.Cluster.Silos.Single(s => s.Name == stage.Silo).SiloAddress.ToString();
                Assert.Equal(planned, info.Silo);
                Assert.Equal(stage.Device, info.Device);
                Assert.Equal(stage.Layers.ToString(), info.StageLayers);
            }
        }
    }

    [Fact]
    public async Task EverySharedExpertShardActivatedOnItsPlannedSilo()
    {
        var plan = Fixture.Plan;
        Assert.Equal(SharedExpertPlacement.Shards, plan.SharedExperts);
        var shared = plan.ExpertShards.Where(s => s.Shard == plan.ShardsPerLayer).ToArray();
        Assert.Equal(plan.Footprint.MoeLayers.Length * plan.Replicas, shared.Length);
        foreach (var shard in shared.Where(s => s.Replica == 0))
        {
            var info = await Fixture.Engine.Shard(shard.Layer, shard.Shard).DescribeAsync();
            Assert.Equal(Fixture.Cluster.Silos.Single(s => s.Name == shard.Silo).SiloAddress.ToString(), info.Silo);
            Assert.Equal(shard.Device, info.Device);
        }
    }
}

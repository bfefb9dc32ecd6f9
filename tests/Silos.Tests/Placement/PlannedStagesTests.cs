using System.Collections.Immutable;
using System.Net;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cluster.Tests.Placement;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Silos.Model;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace Llama4Cluster.Silos.Tests.Placement;

/// <summary>
/// Plans with pipeline stages on the silo side: the planner's cut is the runtime's, the director puts every stage grain on
/// its planned silo, and a staged plan file sets (or refuses a conflicting) <c>Llama4:Stages</c>.
/// </summary>
public sealed class PlannedStagesTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "l4c-planned-stages-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public void ThePlannersCutIsTheRuntimes()
    {
        for (int layers = 1; layers <= 100; layers++)
            for (int stages = 1; stages <= layers; stages++)
                Assert.Equal(LayerRange.Split(layers, stages).Select(r => (r.First, r.Count)), StageLayers.Split(layers, stages).Select(r => (r.First, r.Count)));
    }

    [Fact]
    public async Task TheDirectorPutsEveryStageOnItsPlannedSilo()
    {
        var silos = Enumerable.Range(0, 4).Select(i => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 12000 + i), 1)).ToArray();
        var cpu = ImmutableArray.Create(new DeviceInventory("cpu", ByteSize.GB));
        var inventory = new ClusterInventory([.. silos.Select((s, i) => new SiloInventory(i < 3 ? $"attn-{i}" : "exp", s.Endpoint.ToString(), i < 3 ? SiloRole.Attention : SiloRole.Expert, cpu))]);
        var plan = PlacementPlanner.Plan(Llama4Presets.TinyBehemoth, WeightDType.Bf16, inventory,
            new PlacementOptions { Stages = 3, AttentionRanks = 2, KvBytesPerRank = 1 << 20 }).Plan!;
        var director = new ExpertPlacementDirector(new StaticPlacementPlanProvider(plan), Options.Create(new ExpertPlacementOptions()),
            NullLogger<ExpertPlacementDirector>.Instance);
        var context = new FakePlacementContext(silos[0], silos);

        foreach (var rank in plan.AttentionRanks)
        {
            foreach (var stage in rank.Stages)
            {
                var key = PlacementKey.ForAttentionStage(rank.Rank, stage.Stage).ToString();
                var placed = await director.OnAddActivation(ExpertPlacement.Singleton, new PlacementTarget(GrainId.Create("attentionstage", key), null!, default, 0), context);
                Assert.Equal(plan.Inventory.Find(stage.Silo)!.Address, placed.Endpoint.ToString());
            }
            Assert.Equal(3, rank.Stages.Select(s => s.Silo).Distinct().Count());
        }
        // The ranks interleave: every attention silo holds one stage of each rank.
        Assert.All(plan.AttentionRanks.SelectMany(r => r.Stages.Select(s => (r.Rank, s.Silo))).GroupBy(x => x.Silo), g => Assert.Equal(2, g.Count()));
    }

    [Fact]
    public void AStagedPlanFile_SetsTheStageCount_AndAConflictingOneIsRefused()
    {
        string model = Path.Combine(_dir, "tiny-behemoth");
        Directory.CreateDirectory(model);
        TinyCheckpointWriter.Write(model, Llama4Presets.TinyBehemoth, new TinyCheckpointOptions { Seed = 3 });
        string path = Path.Combine(_dir, "staged.json");
        PlacementPlanJson.Save(TestPlans.TinyStaged(), path);

        var defaulted = new ClusterModelOptions { ModelDirectory = model, PlacementPlanFile = path, Role = "attention", SiloName = "attn-1" };
        new PlanFileConfiguration().PostConfigure(null, defaulted);
        Assert.Equal(3, defaulted.Stages);
        Assert.Equal(SharedExpertPlacement.Shards, defaulted.SharedExperts); // the plan runs the shared experts as shards
        Assert.True(new ClusterModelOptionsValidator().Validate(null, defaulted).Succeeded);

        var conflicting = new ClusterModelOptions { ModelDirectory = model, PlacementPlanFile = path, Role = "attention", SiloName = "attn-1", Stages = 2 };
        new PlanFileConfiguration().PostConfigure(null, conflicting);
        Assert.Equal(2, conflicting.Stages);
        var failure = Assert.Single(new ClusterModelOptionsValidator().Validate(null, conflicting).Failures!);
        Assert.Contains("Llama4:Stages is 2 but the placement plan", failure);
        Assert.Contains("splits each rank into 3 stages", failure);

        // --shared-experts shards against a plan that keeps the shared experts on the ranks stops the silo.
        string onRanks = Path.Combine(_dir, "on-ranks.json");
        PlacementPlanJson.Save(TestPlans.TinyStaged(SharedExpertPlacement.Rank), onRanks);
        var sharding = new ClusterModelOptions
        {
            ModelDirectory = model, PlacementPlanFile = onRanks, Role = "attention", SiloName = "attn-1", SharedExperts = SharedExpertPlacement.Shards,
        };
        new PlanFileConfiguration().PostConfigure(null, sharding);
        Assert.Equal(SharedExpertPlacement.Shards, sharding.SharedExperts);
        var refusal = Assert.Single(new ClusterModelOptionsValidator().Validate(null, sharding).Failures!);
        Assert.Contains("Llama4:SharedExperts is shards but the placement plan", refusal);

        // An unstaged plan leaves --stages as given (its later stages are spread by the director).
        var unstaged = new ClusterModelOptions { PlacementPlanFile = Path.Combine(_dir, "missing.json") };
        new PlanFileConfiguration().PostConfigure(null, unstaged);
        Assert.Equal(1, unstaged.Stages);
    }
}

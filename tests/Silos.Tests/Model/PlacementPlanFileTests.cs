using Llama4Cluster.Silos.Model;
using Llama4Cluster.Cluster.Tests.Placement;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Silos.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Llama4Cluster.Silos.Tests.Cluster;
using Llama4Cluster.Silos.Tests.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Configuration;

namespace Llama4Cluster.Silos.Tests.Model;

/// <summary><c>--plan FILE</c> (<c>Llama4:PlacementPlanFile</c>) as the silo host checks and loads it.</summary>
public sealed class PlacementPlanFileTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "l4c-planfile-" + Guid.NewGuid().ToString("N"));
    private readonly string _model;

    public PlacementPlanFileTests()
    {
        _model = Path.Combine(_dir, "tiny-scout");
        Directory.CreateDirectory(_model);
        TinyCheckpointWriter.Write(_model, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 3 });
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private string Write(PlacementPlan plan, string name)
    {
        string path = Path.Combine(_dir, name);
        PlacementPlanJson.Save(plan, path);
        return path;
    }

    private ClusterModelOptions Options(string plan, string name = "", string role = "all") =>
        new() { ModelDirectory = _model, PlacementPlanFile = plan, SiloName = name, Role = role };

    [Fact]
    public void AGoodPlanIsValidAndRegisteredForTheDirectorAndTheShardMap()
    {
        string path = Write(TestPlans.Tiny(), "tiny.json");
        var options = Options(path, "exp-1", "expert");
        Assert.True(new ClusterModelOptionsValidator().Validate(null, options).Succeeded);

        var services = new ServiceCollection();
        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        var silo = new TestSiloBuilder(services);
        silo.AddLlama4Silo();
        using var provider = services.BuildServiceProvider();
        var plan = provider.GetRequiredService<IPlacementPlanProvider>().Current;
        Assert.NotNull(plan);
        Assert.Equal(2, plan.ShardsPerLayer);
        Assert.Equal("exp-1", provider.GetRequiredService<IOptions<SiloOptions>>().Value.SiloName);
        using var context = new SiloModelContext(Microsoft.Extensions.Options.Options.Create(options), provider.GetRequiredService<IPlacementPlanProvider>());
        Assert.IsType<PlanExpertShardMap>(context.ShardMap);
    }

    [Fact]
    public void WithDevicePlanEachGrainGetsThePlansDeviceForIt()
    {
        var tiny = TestPlans.Tiny();
        // The tiny plan's devices are "cpu"; move shard 1 of the first MoE layer to cuda:3 (a GPU this machine lacks).
        var moved = tiny.ExpertShards[1];
        var plan = tiny with { ExpertShards = tiny.ExpertShards.SetItem(1, moved with { Device = "cuda:3" }) };
        var provider = new SettablePlanProvider { Current = plan };
        var options = Options("");
        options.Device = SiloModelContext.PlanDevice;
        using var context = new SiloModelContext(Microsoft.Extensions.Options.Options.Create(options), provider);
        Assert.True(context.DevicesFromPlan);
        var first = tiny.ExpertShards[0];
        Assert.Equal(TorchSharp.DeviceType.CPU, context.DeviceFor(first.Key).type);
        Assert.Equal(TorchSharp.DeviceType.CPU, context.DeviceFor(PlacementKey.ForAttentionRank(0)).type);
        if (!TorchSharp.torch.cuda.is_available())
        {
            var e = Assert.Throws<ArgumentException>(() => context.DeviceFor(moved.Key));
            Assert.Contains("cuda:3", e.Message, StringComparison.Ordinal);
        }
        var missing = Assert.Throws<InvalidOperationException>(() => context.DeviceFor(PlacementKey.ForAttentionRank(99)));
        Assert.Contains("names no device", missing.Message, StringComparison.Ordinal);

        // Without "plan" every grain is on the silo's device, whatever the plan says.
        options.Device = "cpu";
        using var fixedDevice = new SiloModelContext(Microsoft.Extensions.Options.Options.Create(options), provider);
        Assert.Equal(TorchSharp.DeviceType.CPU, fixedDevice.DeviceFor(moved.Key).type);
    }

    [Fact]
    public void AMissingFileIsOneLineNamingIt()
    {
        string path = Path.Combine(_dir, "nope.json");
        var failure = Assert.Single(new ClusterModelOptionsValidator().Validate(null, Options(path)).Failures!);
        Assert.Contains("Llama4:PlacementPlanFile", failure, StringComparison.Ordinal);
        Assert.Contains(path, failure, StringComparison.Ordinal);
        Assert.Contains("does not exist", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }

    [Fact]
    public void ABrokenFileIsOneLineNamingIt()
    {
        string path = Path.Combine(_dir, "broken.json");
        File.WriteAllText(path, "{ \"footprint\": ");
        var failure = Assert.Single(new ClusterModelOptionsValidator().Validate(null, Options(path)).Failures!);
        Assert.Contains(path, failure, StringComparison.Ordinal);
        Assert.Contains("not a placement plan", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
    }

    [Fact]
    public void APlanForAnotherModelIsRefused()
    {
        string path = Write(TestPlans.MaverickFp8(), "maverick.json");
        var failure = Assert.Single(new ClusterModelOptionsValidator().Validate(null, Options(path)).Failures!);
        Assert.Contains(path, failure, StringComparison.Ordinal);
        Assert.Contains("48 layers, 24 MoE layers × 128 experts", failure, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', failure);
        Assert.Throws<PlacementPlanFileException>(() => PlacementPlanJson.Load(path, Llama4Presets.TinyScout));
    }

    [Fact]
    public void ASiloNameOrRoleThePlanDoesNotHaveIsRefused()
    {
        string path = Write(TestPlans.Tiny(), "tiny.json");
        var validator = new ClusterModelOptionsValidator();
        Assert.Contains("host-7", Assert.Single(validator.Validate(null, Options(path, "host-7")).Failures!), StringComparison.Ordinal);
        Assert.Contains("--role expert", Assert.Single(validator.Validate(null, Options(path, "exp-0", "all")).Failures!), StringComparison.Ordinal);
    }

    private sealed class TestSiloBuilder(IServiceCollection services) : ISiloBuilder
    {
        public IServiceCollection Services { get; } = services;
        public Microsoft.Extensions.Configuration.IConfiguration Configuration { get; } =
            new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build();
    }
}

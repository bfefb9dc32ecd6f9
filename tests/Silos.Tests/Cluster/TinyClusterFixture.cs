using Llama4Cluster.Silos.Model;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Cluster.Engine;
using Llama4Cluster.Silos.Experts;
using Llama4Cluster.Silos.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using TorchSharp;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>The cluster tests' prompts.</summary>
internal static class ClusterPrompts
{
    /// <summary><paramref name="count"/> token ids in 3..511 from a generator seeded with <paramref name="seed"/>.</summary>
    public static int[] Tokens(int count, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, count).Select(_ => rng.Next(3, 512)).ToArray();
    }
}

/// <summary>
/// A tiny checkpoint on disk, the <see cref="LocalEngine"/> reference on it, and an in-process cluster of three
/// silos serving it with fp32 compute and the fp32 wire (exactness): two attention ranks, three expert shards per
/// MoE layer, every grain activated (weights loaded) before the tests run.
/// </summary>
public abstract class TinyClusterFixture : IAsyncLifetime
{
    public const int Silos = 3;
    public const int Ranks = 2;
    public const int ShardsPerLayer = 3;
    public static readonly TimeSpan ShardTimeout = TimeSpan.FromSeconds(5);

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-cluster-" + Guid.NewGuid().ToString("N"));

    protected TinyClusterFixture(Llama4TextConfig config, double messageBudgetFraction = 0.25, DataPlaneKind dataPlane = DataPlaneKind.Orleans,
        bool bf16 = false, int expertReplicas = 1, int stages = 1, SharedExpertPlacement sharedExperts = SharedExpertPlacement.Rank, bool vision = false,
        bool batchInvariant = false)
    {
        BatchInvariant = batchInvariant;
        Vision = vision;
        SharedExperts = sharedExperts;
        Stages = stages;
        ExpertReplicas = expertReplicas;
        Config = config;
        Bf16 = bf16;
        MessageBudgetFraction = messageBudgetFraction;
        DataPlane = dataPlane;
    }

    /// <summary>bf16 with batch-invariant kernels on every silo and in <see cref="Local"/>.</summary>
    public bool BatchInvariant { get; }

    /// <summary>Whether the checkpoint has the tiny vision tower (image ids 507, 508, 509 as the spec's tiny configs).</summary>
    public bool Vision { get; }

    /// <summary>Pipeline stages per attention rank (each on its own silo while there are enough).</summary>
    public int Stages { get; }

    /// <summary>Where the shared experts run: with the ranks, or as one more shard per MoE layer (index <see cref="ShardsPerLayer"/>).</summary>
    public SharedExpertPlacement SharedExperts { get; }

    /// <summary>Replicas of every expert shard (placed on distinct silos by the director).</summary>
    public int ExpertReplicas { get; }

    /// <summary>What carries dispatches: <c>orleans</c> grain calls or the <c>tcp</c> socket data plane.</summary>
    public DataPlaneKind DataPlane { get; }

    /// <summary>Share of the (default 64 MiB) maximum message a payload may use; tiny values force split prefills.</summary>
    public double MessageBudgetFraction { get; }

    public long PayloadBudgetBytes => (long)(new ClusterModelOptions().MaxMessageBytes * MessageBudgetFraction);

    public Llama4TextConfig Config { get; }

    /// <summary>bf16 compute and the bf16 wire (the serving configuration) instead of fp32 for exactness.</summary>
    public bool Bf16 { get; }
    public string ModelDirectory => _directory;
    public InProcessTestCluster Cluster { get; private set; } = null!;
    public ClusterEngine Engine { get; private set; } = null!;
    public LocalEngine Local { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        TinyCheckpointWriter.Write(_directory, Config, new TinyCheckpointOptions { Seed = 11, Vision = Vision ? Llama4VisionConfig.Tiny : null },
            Vision ? new ImageTokenIds(507, 508, 509) : null);
        Local = LocalEngine.Load(_directory, new LocalEngineOptions
        {
            ComputeDType = Bf16 ? torch.ScalarType.BFloat16 : torch.ScalarType.Float32, BatchInvariant = BatchInvariant,
        });
        var builder = new InProcessTestClusterBuilder(Silos);
        string dir = _directory;
        builder.ConfigureSilo((options, silo) =>
        {
            silo.AddLlama4Silo(o =>
            {
                o.ModelDirectory = dir;
                o.DType = Bf16 ? "bfloat16" : "float32";
                o.WireDType = Bf16 ? "bf16" : "fp32";
                o.ShardsPerLayer = ShardsPerLayer;
                o.AttentionRanks = Ranks;
                o.ShardTimeout = ShardTimeout;
                o.MessageBudgetFraction = MessageBudgetFraction;
                o.DataPlane = DataPlane;
                o.ExpertReplicas = ExpertReplicas;
                o.Stages = Stages;
                o.SharedExperts = SharedExperts;
                o.BatchInvariant = BatchInvariant;
            });
            silo.Services.AddSingleton<IExpertShardObserver>(ShardCallRecorder.Instance);
            ConfigureSilo(options.SiloName, silo);
        });
        Cluster = builder.Build();
        await Cluster.DeployAsync();
        // Placement reads each silo's view of which silos are active and hold the grain types; until every silo has seen
        // every other silo's manifest, a rank's later stages may be placed as if there were fewer silos.
        await Cluster.WaitForClusterManifestToStabilizeAsync();
        await OnDeployedAsync();
        Engine = new ClusterEngine(Cluster.Client, Config, Ranks, ShardsPerLayer)
        {
            SharedExperts = SharedExperts, Vision = Llama4Cluster.Core.Vision.VisionInputs.FromModelDirectory(_directory),
        };
        Loaded = await Engine.LoadAsync();
    }

    /// <summary>What <see cref="ClusterEngine.LoadAsync"/> said about every rank and shard it activated.</summary>
    public (IReadOnlyList<AttentionRankInfo> Ranks, IReadOnlyList<ExpertShardInfo> Shards) Loaded { get; private set; }

    /// <summary>Per-silo additions, after the common settings (a later registration wins).</summary>
    protected virtual void ConfigureSilo(string siloName, ISiloBuilder silo)
    {
    }

    /// <summary>After the silos started and before any grain is activated.</summary>
    protected virtual Task OnDeployedAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        try
        {
            if (Cluster is not null) await Cluster.DisposeAsync();
        }
        finally
        {
            Local?.Dispose();
            if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
        }
    }
}

/// <summary>
/// Tiny-scout with a payload budget of ~4 KiB: an all-logits step (2 KiB of fp32 logits per token) runs 2 tokens per
/// pass and a prefill 16 tokens per pass, so the equivalence tests here also cover split prefills.
/// </summary>
/// <summary>Tiny-scout with the tiny vision tower, and a message budget so small that prefills split into many passes.</summary>
public sealed class TinyScoutClusterFixture() : TinyClusterFixture(Llama4Presets.TinyScout, messageBudgetFraction: 1.0 / 16384, vision: true);

public sealed class TinyMaverickClusterFixture() : TinyClusterFixture(Llama4Presets.TinyMaverick);

/// <summary>Tiny-maverick with dispatches on the socket data plane instead of grain calls.</summary>
public sealed class TinyMaverickTcpClusterFixture() : TinyClusterFixture(Llama4Presets.TinyMaverick, dataPlane: DataPlaneKind.Tcp);

/// <summary>Tiny-scout on the socket data plane with two replicas of every expert shard.</summary>
public sealed class TinyScoutReplicasClusterFixture() : TinyClusterFixture(Llama4Presets.TinyScout, dataPlane: DataPlaneKind.Tcp, expertReplicas: 2);

/// <summary>Tiny-behemoth (spec §1.5's structure) with every rank split into three pipeline stages, one per silo.</summary>
public sealed class TinyBehemothStagedClusterFixture() : TinyClusterFixture(Llama4Presets.TinyBehemoth, stages: 3, vision: true);

/// <summary>Tiny-maverick with two pipeline stages per rank, dispatches on the socket data plane, and a payload budget
/// small enough (~4 KiB) to split prefills into several passes, each handed on by itself.</summary>
public sealed class TinyMaverickStagedClusterFixture() : TinyClusterFixture(Llama4Presets.TinyMaverick, messageBudgetFraction: 1.0 / 16384,
    dataPlane: DataPlaneKind.Tcp, stages: 2);

/// <summary>Tiny-scout with the shared experts as shards (grain calls) and a ~4 KiB payload budget that splits prefills.</summary>
public sealed class TinyScoutSharedShardsClusterFixture() : TinyClusterFixture(Llama4Presets.TinyScout, messageBudgetFraction: 1.0 / 16384,
    sharedExperts: SharedExpertPlacement.Shards);

/// <summary>Tiny-maverick with the shared experts as shards on the socket data plane, two replicas of every shard.</summary>
public sealed class TinyMaverickSharedShardsClusterFixture() : TinyClusterFixture(Llama4Presets.TinyMaverick, dataPlane: DataPlaneKind.Tcp,
    expertReplicas: 2, sharedExperts: SharedExpertPlacement.Shards);

/// <summary>Tiny-behemoth, three stages per rank, the shared experts as shards: each stage dispatches its layers' shared experts.</summary>
public sealed class TinyBehemothStagedSharedShardsClusterFixture() : TinyClusterFixture(Llama4Presets.TinyBehemoth, stages: 3,
    sharedExperts: SharedExpertPlacement.Shards);

public sealed class TinyScoutTop2ClusterFixture() : TinyClusterFixture(Llama4Presets.TinyScout with { NumExpertsPerToken = 2 });

/// <summary>Tiny-scout served as in production: bf16 compute, bf16 wire.</summary>
public sealed class TinyScoutBf16ClusterFixture() : TinyClusterFixture(Llama4Presets.TinyScout, bf16: true);

public sealed class TinyMaverickBf16InvariantClusterFixture() : TinyClusterFixture(Llama4Presets.TinyMaverick, bf16: true, batchInvariant: true);

[CollectionDefinition(Name)]
public sealed class TinyMaverickBf16InvariantCluster : ICollectionFixture<TinyMaverickBf16InvariantClusterFixture>
{
    public const string Name = "tiny-maverick cluster, bf16, batch-invariant";
}

[CollectionDefinition(Name)]
public sealed class TinyScoutBf16Cluster : ICollectionFixture<TinyScoutBf16ClusterFixture>
{
    public const string Name = "tiny-scout cluster, bf16";
}

[CollectionDefinition(Name)]
public sealed class TinyScoutCluster : ICollectionFixture<TinyScoutClusterFixture>
{
    public const string Name = "tiny-scout cluster";
}

[CollectionDefinition(Name)]
public sealed class TinyMaverickCluster : ICollectionFixture<TinyMaverickClusterFixture>
{
    public const string Name = "tiny-maverick cluster";
}

[CollectionDefinition(Name)]
public sealed class TinyMaverickTcpCluster : ICollectionFixture<TinyMaverickTcpClusterFixture>
{
    public const string Name = "tiny-maverick cluster, tcp data plane";
}

[CollectionDefinition(Name)]
public sealed class TinyScoutReplicasCluster : ICollectionFixture<TinyScoutReplicasClusterFixture>
{
    public const string Name = "tiny-scout cluster, tcp data plane, two replicas";
}

[CollectionDefinition(Name)]
public sealed class TinyScoutTop2Cluster : ICollectionFixture<TinyScoutTop2ClusterFixture>
{
    public const string Name = "tiny-scout-top2 cluster";
}

[CollectionDefinition(Name)]
public sealed class TinyBehemothStagedCluster : ICollectionFixture<TinyBehemothStagedClusterFixture>
{
    public const string Name = "tiny-behemoth cluster, three stages per rank";
}

[CollectionDefinition(Name)]
public sealed class TinyMaverickStagedCluster : ICollectionFixture<TinyMaverickStagedClusterFixture>
{
    public const string Name = "tiny-maverick cluster, two stages per rank, tcp data plane";
}

[CollectionDefinition(Name)]
public sealed class TinyScoutSharedShardsCluster : ICollectionFixture<TinyScoutSharedShardsClusterFixture>
{
    public const string Name = "tiny-scout cluster, shared experts as shards";
}

[CollectionDefinition(Name)]
public sealed class TinyMaverickSharedShardsCluster : ICollectionFixture<TinyMaverickSharedShardsClusterFixture>
{
    public const string Name = "tiny-maverick cluster, shared experts as shards, tcp data plane, two replicas";
}

[CollectionDefinition(Name)]
public sealed class TinyBehemothStagedSharedShardsCluster : ICollectionFixture<TinyBehemothStagedSharedShardsClusterFixture>
{
    public const string Name = "tiny-behemoth cluster, three stages per rank, shared experts as shards";
}

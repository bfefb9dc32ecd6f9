using Llama4Cluster.Cli.Cluster;
using Llama4Cluster.Cli.Engines;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Silos.Placement;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// The options every model-running command shares: --model, --dtype (float32|bfloat16|auto, resolved here against the
/// checkpoint: auto computes in the checkpoint's dtype, <see cref="ComputeDType.ForCheckpoint"/>), --device, --threads, and
/// --engine local|cluster [--silos N] (cluster: an ephemeral local cluster of N silo processes plus redis-server;
/// --threads is then torch threads per silo process, default cores ÷ N; --plan FILE places the grains by a plan from
/// <c>llama4 plan ... --out FILE</c>: one silo per planned silo, each started with that silo's name and role;
/// --silo-addresses distinct puts each silo on a loopback address of its own, 127.0.0.2, 127.0.0.3, …, standing for hosts).
/// </summary>
internal sealed record EngineArguments(string ModelDirectory, LocalEngineOptions Options, Llama4TextConfig Config, string Engine = "local", int Silos = 3,
    string? PlanFile = null, PlacementPlan? Plan = null, bool DistinctAddresses = false)
{
    /// <summary>The options <see cref="Parse"/> reads, but <c>--dtype</c>, whose default is the command's own.</summary>
    public static readonly IReadOnlyList<CommandLineOption> CommandLineOptions =
    [
        CommonOptions.Model,
        CommonOptions.Device,
        new("threads", "N", "torch threads (default: one per core; with --engine cluster, per silo process: cores ÷ silos)"),
        new("engine", "local|cluster", "run in this process (default) or on an ephemeral local cluster of silo processes + redis-server"),
        new("silos", "N", "silo processes of --engine cluster (default 3)"),
        new("plan", "FILE", "with --engine cluster: place the grains by a plan from llama4 plan --out"),
        CommonOptions.SiloAddresses,
        CommonOptions.BatchInvariant,
    ];

    /// <param name="a">The command's arguments.</param>
    /// <param name="defaultDType">The command's default <c>--dtype</c>: <c>auto</c> for <c>generate</c>, <c>float32</c> for
    /// <c>logits</c> (the exactness reference).</param>
    public static EngineArguments Parse(Arguments a, string defaultDType)
    {
        string model = a.Required("model");
        if (!Directory.Exists(model))
            throw new UsageException($"--model: directory '{model}' does not exist");
        if (!File.Exists(Path.Combine(model, "config.json")))
            throw new UsageException($"--model: '{model}' has no config.json (expected a Hugging Face checkpoint directory)");
        LocalEngineOptions options;
        try
        {
            options = new LocalEngineOptions
            {
                ComputeDType = ComputeDType.Resolve(a.Optional("dtype") ?? defaultDType, model),
                Device = DeviceSpec.Parse(a.Optional("device") ?? "cpu"),
                Threads = a.Int("threads", 1, 1024),
                BatchInvariant = a.Flag("batch-invariant"),
            };
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
        string engine = a.Optional("engine") ?? "local";
        if (engine is not ("local" or "cluster"))
            throw new UsageException($"--engine: '{engine}' is not an engine (local or cluster)");
        int? silos = a.Int("silos", 1, 64);
        if (silos is not null && engine != "cluster")
            throw new UsageException("--silos applies to --engine cluster");
        bool distinct = SiloAddressMode(a, engine);
        // Read the config first (cheap) so token ids are checked before any weights load.
        var config = Llama4ConfigReader.Load(model);
        string? planFile = a.Optional("plan");
        if (planFile is null) return new EngineArguments(model, options, config, engine, silos ?? 3, DistinctAddresses: distinct);
        if (engine != "cluster") throw new UsageException("--plan applies to --engine cluster");
        PlacementPlan plan;
        try
        {
            plan = PlacementPlanJson.Load(planFile, config);
        }
        catch (PlacementPlanFileException e)
        {
            throw new UsageException("--plan: " + e.Message);
        }
        int planned = plan.Inventory.Silos.Length;
        if (silos is not null && silos != planned)
            throw new UsageException($"--silos {silos} disagrees with the plan, which places grains on {planned} silos; leave --silos out");
        return new EngineArguments(model, options, config, engine, planned, Path.GetFullPath(planFile), plan, distinct);
    }

    /// <summary><c>--silo-addresses loopback|distinct</c>, which only an ephemeral cluster has.</summary>
    internal static bool SiloAddressMode(Arguments a, string engine = "cluster")
    {
        string? mode = a.Optional("silo-addresses");
        if (mode is not null && engine != "cluster") throw new UsageException("--silo-addresses applies to --engine cluster");
        try
        {
            return LoopbackHosts.ParseMode(mode);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>Throws a usage error naming <paramref name="option"/> for ids outside the vocabulary.</summary>
    public void CheckTokens(IEnumerable<int> tokens, string option)
    {
        foreach (int t in tokens)
            if (t < 0 || t >= Config.VocabSize)
                throw new UsageException($"--{option}: id {t} is outside the vocabulary (0..{Config.VocabSize - 1})");
    }

    /// <summary>Loads the chosen engine: in this process, or by starting a local cluster (torn down on dispose).</summary>
    public ICliEngine Load()
    {
        if (Engine == "cluster") return LoadCluster();
        return new LocalCliEngine(LoadLocal());
    }

    private ClusterCliEngine LoadCluster()
    {
        bool fp32 = Options.ComputeDType == TorchSharp.torch.ScalarType.Float32;
        var options = new LocalClusterOptions
        {
            ModelDirectory = ModelDirectory,
            Silos = Silos,
            ShardsPerLayer = Plan?.ShardsPerLayer ?? Math.Min(Silos, Config.NumLocalExperts),
            AttentionRanks = Plan?.AttentionRanks.Length ?? 1,
            PlanFile = PlanFile,
            PlannedSilos = Plan?.Inventory.Silos.Select(s => (s.Name, s.Role.ToText())).ToArray(),
            DType = ComputeDType.Name(Options.ComputeDType),
            WireDType = fp32 ? "fp32" : "bf16", // exact results in float32; bf16 activations on the wire otherwise
            Device = Options.Device.type == TorchSharp.DeviceType.CPU ? "cpu" : $"cuda:{Options.Device.index}",
            ThreadsPerSilo = Options.Threads ?? Math.Max(1, Environment.ProcessorCount / Silos),
            DistinctAddresses = DistinctAddresses,
            SharedExperts = Plan?.SharedExperts ?? SharedExpertPlacement.Rank,
            BatchInvariant = Options.BatchInvariant,
        };
        try
        {
            return ClusterCliEngine.StartAsync(options, Config, Console.Error.WriteLine, Plan).GetAwaiter().GetResult();
        }
        catch (ClusterStartException e)
        {
            throw new IOException("--engine cluster: " + e.Message, e);
        }
    }

    public LocalEngine LoadLocal()
    {
        return Terminal.WithProgress($"loading {ModelDirectory}", progress =>
            LocalEngine.Load(ModelDirectory, Options,
                new Progress(p => progress.Report((double)p.Done / p.Total)),
                warn: w => Console.Error.WriteLine("warning: " + w)));
    }

    private sealed class Progress(Action<Kernels.Model.LoadProgress> report) : IProgress<Kernels.Model.LoadProgress>
    {
        public void Report(Kernels.Model.LoadProgress value) => report(value);
    }
}

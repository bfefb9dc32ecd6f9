using System.Globalization;
using Llama4Cluster.Cli.Deploy;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>plan (--preset NAME | --model DIR) --hosts N --gpus-per-host G --gpu-memory 80GB [--dtype bfloat16|fp8] ...</c>:
/// asks the placement planner whether the model fits on N identical hosts and prints the plan (memory table
/// per device, attention ranks and their pipeline stages, shard layout, totals, an estimated decode step) or the
/// does-not-fit answer naming the binding constraint, with the fewest hosts that would do. Exit code 0 when it fits,
/// <see cref="DoesNotFit"/> (3) when it does not, 2 for a bad command line. With <c>--out FILE</c> a plan is also written
/// as JSON (<see cref="PlacementPlanJson"/>) for silos' <c>--plan FILE</c>; with <c>--k8s-out DIR</c> a kustomize overlay that runs
/// the plan, one pod per planned silo (<see cref="KubernetesOverlayWriter"/>; <c>--k8s-namespace NS</c> puts it in a namespace).
/// A does-not-fit answer writes neither.
/// </summary>
internal static class PlanCommand
{
    public const string Usage = "plan (--preset scout|maverick|behemoth | --model DIR) --hosts N --gpus-per-host G --gpu-memory 80GB [--dtype bfloat16|fp8] [--attention-ranks R] [--stages K] [--shared-experts auto|rank|shards] [--context N --sequences S | --kv-budget 20GB] [--shards-per-layer S] [--replicas R] [--headroom 0.1] [--gpu h100|h100-pcie|h200|a100] [--interconnect nvlink+ib|nvlink+eth|pcie+eth] [--link-gbps G] [--link-latency-us U | --measured BENCH.json] [--batch 1,32] [--layout summary|full] [--out plan.json] [--k8s-out DIR [--k8s-namespace NS]]  (exit 3: does not fit)";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Lay a model out over GPU hosts: expert shards, attention ranks and their pipeline stages, the memory per device and the estimated decode step. Exit 3 when it does not fit, naming the binding constraint.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        new("preset", "NAME", "scout, maverick or behemoth (the published configurations)"),
        CommonOptions.Model,
        new("hosts", "N", "hosts in the cluster"),
        new("gpus-per-host", "G", "GPUs per host"),
        new("gpu-memory", "SIZE", "memory of one GPU, e.g. 80GB"),
        new("dtype", "bfloat16|fp8", "weight dtype (also bf16; default bfloat16)"),
        new("attention-ranks", "R", "attention ranks (default: the fewest that fit)"),
        new("attention-devices", "N", "retired: a rank spans devices as pipeline stages (--stages)"),
        new("stages", "K", "pipeline stages per rank (default: the fewest that fit)"),
        new("shared-experts", "auto|rank|shards", "shared experts with the rank stages, as shards, or the planner's choice (default auto)"),
        new("context", "N", "tokens per sequence the KV budget holds (default 8192)"),
        new("sequences", "S", "sequences per rank the KV budget holds (default 8)"),
        new("kv-budget", "SIZE", "KV cache per rank instead of --context/--sequences, e.g. 20GB"),
        new("shards-per-layer", "S", "expert shards per MoE layer (default: the planner's choice)"),
        new("replicas", "R", "replicas of each expert shard, on distinct silos (default 1)"),
        new("headroom", "F", "fraction of each device kept free (default 0.1)"),
        new("gpu", "h100|h100-pcie|h200|a100", "GPU of the step-time estimate (default h100)"),
        new("interconnect", "nvlink+ib|nvlink+eth|pcie+eth", "links of the step-time estimate (default nvlink+ib)"),
        new("link-gbps", "G", "bandwidth between hosts in Gb/s, replacing the interconnect's"),
        new("link-latency-us", "U", "one-way latency between hosts in microseconds"),
        new("measured", "FILE", "take link latency and bandwidth from a llama4 bench cluster --json output"),
        new("batch", "LIST", "batch sizes of the step-time estimate, comma-separated (default 1,32)"),
        new("layout", "summary|full", "shard layout of the first and last MoE layers, or of all (default summary)"),
        new("out", "FILE", "write the plan as JSON, for silos started with --plan"),
        new("k8s-out", "DIR", "write a kustomize overlay with one pod per planned silo"),
        new("k8s-namespace", "NS", "namespace of that overlay"),
    ];

    /// <summary>The exit code of a does-not-fit answer.</summary>
    public const int DoesNotFit = 3;

    public static int Run(Arguments a)
    {
        string? preset = a.Optional("preset");
        string? model = a.Optional("model");
        if ((preset is null) == (model is null))
            throw new UsageException("give exactly one of --preset scout|maverick|behemoth or --model DIR");
        int hosts = a.Int("hosts", 1, 100_000) ?? throw new UsageException("missing required option --hosts");
        int gpus = a.Int("gpus-per-host", 1, 1024) ?? throw new UsageException("missing required option --gpus-per-host");
        long gpuMemory = Bytes(a, "gpu-memory") ?? throw new UsageException("missing required option --gpu-memory (e.g. 80GB)");
        var dtype = ParseDType(a.Optional("dtype") ?? "bfloat16");
        int? ranks = a.Int("attention-ranks", 1, 100_000);
        if (a.Optional("attention-devices") is not null)
            throw new UsageException("--attention-devices was retired: the engine runs each attention rank stage on ONE device, so a rank spans devices as pipeline stages; use --stages K (or leave it out: the planner picks the fewest that fit)");
        int? stages = a.Int("stages", 1, 100_000);
        var shared = ParseShared(a.Optional("shared-experts") ?? "auto");
        int? context = a.Int("context", 0, int.MaxValue);
        int? sequences = a.Int("sequences", 0, 1_000_000);
        long? kvBudget = a.Optional("kv-budget") is { } kvText
            ? (kvText == "0" ? 0 : Bytes(kvText, "kv-budget"))
            : null;
        if (kvBudget is not null && (context is not null || sequences is not null))
            throw new UsageException("give either --kv-budget or --context/--sequences, not both");
        int? shards = a.Int("shards-per-layer", 1, 1_000_000);
        int replicas = a.Int("replicas", 1, 1024) ?? 1;
        double headroom = a.Double("headroom", 0, 0.99) ?? 0.10;
        string layout = a.Optional("layout") ?? "summary";
        if (layout is not ("summary" or "full")) throw new UsageException($"--layout must be summary or full; got '{layout}'");
        string? outFile = a.Optional("out");
        var (k8sOut, k8sNamespace) = KubernetesOutput(a);
        var cost = PlanReport.CostInputs(a);
        a.EnsureAllUsed();

        var (config, modelName) = LoadModel(preset, model);

        var defaults = new PlacementOptions();
        var options = new PlacementOptions
        {
            AttentionRanks = ranks,
            Stages = stages,
            SharedExperts = shared,
            KvBytesPerRank = kvBudget,
            ContextTokens = context ?? defaults.ContextTokens,
            Sequences = sequences ?? defaults.Sequences,
            ShardsPerLayer = shards,
            Replicas = replicas,
            Headroom = headroom,
        };
        var inventory = ClusterInventory.Uniform(hosts, gpus, gpuMemory);
        PlacementOutcome outcome;
        try
        {
            outcome = PlacementPlanner.Plan(config, dtype, inventory, options);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        PrintModel(modelName, config, outcome.Footprint, options, hosts, gpus, gpuMemory);
        if (outcome.Fits)
        {
            PrintPlan(outcome.Plan, layout == "full");
            Console.WriteLine();
            Console.WriteLine($"fits: {outcome.Plan.Summary}");
            Console.WriteLine(HostLoss.Describe(outcome.Plan));
            Console.WriteLine();
            PlanReport.PrintCost(config, outcome.Plan, cost, options.ContextTokens);
            if (outFile is not null) WritePlan(outcome.Plan, outFile);
            if (k8sOut is not null) WriteOverlay(outcome.Plan, k8sOut, k8sNamespace, ModelRepository(preset, dtype));
            return 0;
        }
        Console.WriteLine();
        Console.WriteLine(outcome.Shortfall.Message);
        Console.WriteLine($"binding constraint: {PlanReport.Describe(outcome.Shortfall.Constraint)}");
        PrintMinimum(config, dtype, gpus, gpuMemory, options);
        if (outFile is not null) Console.WriteLine($"no plan written to {Path.GetFullPath(outFile)}: the model does not fit.");
        if (k8sOut is not null) Console.WriteLine($"no overlay written to {Path.GetFullPath(k8sOut)}: the model does not fit.");
        return DoesNotFit;
    }

    /// <summary><c>--k8s-out DIR</c> and <c>--k8s-namespace NS</c>, checked.</summary>
    private static (string? Directory, string? Namespace) KubernetesOutput(Arguments a)
    {
        string? k8sOut = a.Optional("k8s-out");
        string? k8sNamespace = a.Optional("k8s-namespace");
        if (k8sNamespace is not null && k8sOut is null) throw new UsageException("--k8s-namespace needs --k8s-out DIR");
        if (k8sNamespace is not null && !KubernetesName(k8sNamespace))
            throw new UsageException($"--k8s-namespace '{k8sNamespace}': use lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit");
        if (k8sOut is { Length: 0 }) throw new UsageException("--k8s-out needs a folder");
        return (k8sOut, k8sNamespace);
    }

    /// <summary>The weight dtype: <c>bfloat16</c> (also <c>bf16</c>) or <c>fp8</c>, as the other commands spell dtypes.</summary>
    internal static WeightDType ParseDType(string text) => text.ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => WeightDType.Bf16,
        "fp8" => WeightDType.Fp8,
        var s => throw new UsageException($"--dtype must be bfloat16 or fp8 (bf16 is accepted for bfloat16); got '{s}'"),
    };

    private static SharedExpertPlacement? ParseShared(string text) => text.ToLowerInvariant() switch
    {
        "auto" => null,
        "rank" => SharedExpertPlacement.Rank,
        "shards" => SharedExpertPlacement.Shards,
        var s => throw new UsageException($"--shared-experts must be auto, rank or shards; got '{s}'"),
    };

    /// <summary>The config of a preset (no checkpoint needed) or of a checkpoint directory, and the name the report shows.</summary>
    private static (Llama4TextConfig Config, string Name) LoadModel(string? preset, string? model)
    {
        if (preset is null) return (Llama4ConfigReader.Load(model!, w => Terminal.Info("warning: " + w)), model!);
        if (preset is not ("scout" or "maverick" or "behemoth"))
            throw new UsageException($"--preset must be scout, maverick or behemoth; got '{preset}'");
        return (Llama4Presets.Get(preset), preset == "behemoth" ? "behemoth (INFERRED estimate, spec §1.5: no config was ever published)" : preset);
    }

    private static void WritePlan(PlacementPlan plan, string outFile)
    {
        string full = Path.GetFullPath(outFile);
        try
        {
            PlacementPlanJson.Save(plan, full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UsageException($"--out: cannot write '{full}': {e.Message}");
        }
        Console.WriteLine($"plan written to {full} (start each silo with --plan {full} --name SILO, SILO one of {string.Join(", ", plan.Inventory.Silos.Select(s => s.Name))})");
    }

    private static void WriteOverlay(PlacementPlan plan, string directory, string? ns, string? repository)
    {
        KubernetesOverlayWriter.Write(plan, directory, ns, repository);
        string full = Path.GetFullPath(directory);
        Console.WriteLine($"kustomize overlay written to {full}: one pod per planned silo ({string.Join(", ", plan.Inventory.Silos.Select(s => s.Name))}); render with kubectl kustomize {full}, apply with kubectl apply --server-side -k {full}");
        if (repository is null) Console.WriteLine("note: the model-download Job has no MODEL_REPO for this model (no published checkpoint known): set it, or fill the llama4-model volume yourself.");
    }

    /// <summary>The Hugging Face repository of a preset's checkpoint in a dtype; null where none is published (Behemoth, --model).</summary>
    private static string? ModelRepository(string? preset, WeightDType dtype) => (preset, dtype) switch
    {
        ("scout", _) => "meta-llama/Llama-4-Scout-17B-16E-Instruct",
        ("maverick", WeightDType.Fp8) => "meta-llama/Llama-4-Maverick-17B-128E-Instruct-FP8",
        ("maverick", _) => "meta-llama/Llama-4-Maverick-17B-128E-Instruct",
        _ => null,
    };

    private static bool KubernetesName(string name) =>
        name.Length is > 0 and <= 63 && name.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '-') && name[0] != '-' && name[^1] != '-';

    private static long? Bytes(Arguments a, string name) => a.Optional(name) is { } s ? Bytes(s, name) : null;

    private static long Bytes(string text, string name) => ByteSize.TryParse(text, out long bytes)
        ? bytes
        : throw new UsageException($"--{name} expects a size such as 80GB, 79.6GiB or 512MB; got '{text}'");

    private static string Gb(long bytes) => ByteSize.FormatGb(bytes);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static void PrintModel(string name, Llama4TextConfig config, ModelFootprint f, PlacementOptions options, int hosts, int gpus, long gpuMemory)
    {
        Console.WriteLine(Inv($"model: {name}: {config.TotalParameters / 1e9:F1}B parameters ({config.ActiveParameters / 1e9:F1}B active), {config.NumHiddenLayers} layers, {f.MoeLayers.Length} MoE layers × {f.ExpertsPerLayer} experts"));
        Console.WriteLine(Inv($"weights ({PlanReport.DTypeName(f.DType)}{(f.DType == WeightDType.Fp8 ? ": routed experts fp8 + per-row scales, the rest bf16" : "")}): one expert {ByteSize.Format(f.ExpertBytes)}, routed experts {ByteSize.Format(f.RoutedExpertBytes)}, non-expert weights {ByteSize.Format(f.NonExpertBytes)} per attention rank"));
        string kv = options.KvBytesPerRank is { } budget
            ? Inv($"KV budget {ByteSize.Format(budget)} per attention rank")
            : Inv($"KV {ByteSize.Format(f.KvBytesPerSequence(options.ContextTokens))} per sequence of {options.ContextTokens} tokens × {options.Sequences} sequences = {ByteSize.Format(options.Sequences * f.KvBytesPerSequence(options.ContextTokens))} per attention rank");
        Console.WriteLine(kv);
        Console.WriteLine(Inv($"cluster: {hosts} host(s) × {gpus} GPU(s) × {ByteSize.Format(gpuMemory)} = {ByteSize.Format((long)hosts * gpus * gpuMemory)}, {options.Headroom * 100:0.#}% headroom per device"));
        Console.WriteLine();
    }

    private static void PrintPlan(PlacementPlan plan, bool fullLayout)
    {
        var stagesByDevice = plan.AttentionRanks
            .SelectMany(r => r.Stages.Select(st => (st.Silo, st.Device, Label: plan.StagesPerRank == 1 ? Inv($"{r.Rank}") : Inv($"{r.Rank}/{st.Stage}"))))
            .ToLookup(x => (x.Silo, x.Device), x => x.Label);
        Terminal.Table("memory per device (GB)",
            ["silo", "device", "capacity", "experts", "shards", "non-expert", "KV", "headroom", "free", plan.StagesPerRank == 1 ? "attention rank" : "rank/stage"],
            plan.Memory.Select(m => (IReadOnlyList<string>)
            [
                m.Silo, m.Device, Gb(m.CapacityBytes), Gb(m.ExpertBytes), m.ExpertShards.ToString(CultureInfo.InvariantCulture),
                Gb(m.NonExpertBytes), Gb(m.KvBytes), Gb(m.HeadroomBytes), Gb(m.FreeBytes),
                string.Join(",", stagesByDevice[(m.Silo, m.Device)]),
            ]));
        Console.WriteLine();
        PlanReport.PrintStages(plan);
        if (plan.ExpertShards.IsEmpty) return;

        Console.WriteLine();
        var deviceIndex = plan.Memory.Select((m, i) => (m, i)).ToDictionary(x => (x.m.Silo, x.m.Device), x => x.i);
        var byLayer = plan.ExpertShards.GroupBy(s => s.Layer).ToList();
        var spread = byLayer.Select(g => g.Select(s => (s.Silo, s.Device)).Distinct().Count()).ToList();
        var routed = plan.ExpertShards.Where(s => !plan.IsSharedExpertShard(s)).ToList();
        int minExperts = routed.Min(s => s.Experts.Length), maxExperts = routed.Max(s => s.Experts.Length);
        string sharedShards = plan.SharedExperts == SharedExpertPlacement.Shards
            ? Inv($" + 1 shared-expert shard per layer (shard {plan.ShardsPerLayer}, {ByteSize.Format(plan.ExpertShards.First(plan.IsSharedExpertShard).Bytes)}, every token routed to it)")
            : "";
        Console.WriteLine(Inv($"expert shards: {plan.Footprint.MoeLayers.Length} MoE layers × {plan.ShardsPerLayer} shards{sharedShards} × {plan.Replicas} replica(s) = {plan.ExpertShards.Length} shards; routed shards of {(minExperts == maxExperts ? $"{minExperts}" : $"{minExperts}-{maxExperts}")} expert(s) ({ByteSize.Format(routed.Max(s => s.Bytes))} each at most); one layer's shards sit on {spread.Min()}-{spread.Max()} distinct devices"));
        var shown = fullLayout ? byLayer : byLayer.Take(2).Concat(byLayer.Count > 3 ? byLayer.TakeLast(1) : []).Distinct().ToList();
        Terminal.Table(fullLayout ? "shard layout (device numbers as in the memory table)" : "shard layout, first and last MoE layers (--layout full for all; device numbers as in the memory table)",
            ["layer", "shard → experts @ device"],
            shown.Select(g => (IReadOnlyList<string>)
            [
                g.Key.ToString(CultureInfo.InvariantCulture),
                string.Join(" ", g.Select(s => Inv($"{s.Shard}{(plan.Replicas > 1 ? $"r{s.Replica}" : "")}:{Range(s.Experts)}@{deviceIndex[(s.Silo, s.Device)]}"))),
            ]));
    }

    private static string Range(System.Collections.Immutable.ImmutableArray<int> experts) =>
        experts.IsEmpty ? "shared" : experts.Length == 1 ? Inv($"{experts[0]}") : Inv($"{experts[0]}-{experts[^1]}");

    private static void PrintMinimum(Llama4TextConfig config, WeightDType dtype, int gpus, long gpuMemory, PlacementOptions options)
    {
        foreach (var d in dtype == WeightDType.Bf16 ? new[] { WeightDType.Bf16, WeightDType.Fp8 } : [WeightDType.Fp8])
        {
            int? min;
            try
            {
                min = PlacementPlanner.MinimumUniformHosts(config, d, gpus, gpuMemory, options, maxHosts: 1024);
            }
            catch (ArgumentException)
            {
                min = null;
            }
            string label = PlanReport.DTypeName(d);
            if (min is not { } n)
            {
                Console.WriteLine(Inv($"in {label}: no number of {gpus}×{ByteSize.Format(gpuMemory)} hosts (up to 1024) is enough with these options."));
                continue;
            }
            var plan = PlacementPlanner.Plan(config, d, ClusterInventory.Uniform(n, gpus, gpuMemory), options).Plan!;
            Console.WriteLine(Inv($"in {label} it needs {n} host(s) of {gpus} × {ByteSize.Format(gpuMemory)}: {plan.Summary}"));
        }
    }
}

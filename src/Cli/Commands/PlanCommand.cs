using System.Globalization;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>plan (--preset NAME | --model DIR) --hosts N --gpus-per-host G --gpu-memory 80GB [--dtype bf16|fp8] ...</c>:
/// asks the placement planner whether the model fits on N identical hosts and prints the plan (memory table
/// per device, attention ranks, shard layout, totals) or the does-not-fit answer with the fewest hosts that
/// would do. Both are answers: exit code 0. With <c>--out FILE</c> a plan is also written as JSON (<see cref="PlacementPlanJson"/>)
/// for silos' <c>--plan FILE</c>; a does-not-fit answer writes nothing.
/// </summary>
internal static class PlanCommand
{
    public const string Usage = "plan (--preset scout|maverick|behemoth | --model DIR) --hosts N --gpus-per-host G --gpu-memory 80GB [--dtype bf16|fp8] [--attention-ranks R] [--attention-devices K] [--context N --sequences S | --kv-budget 20GB] [--shards-per-layer S] [--replicas R] [--headroom 0.1] [--layout summary|full] [--out plan.json]";

    public static int Run(Arguments a)
    {
        string? preset = a.Optional("preset");
        string? model = a.Optional("model");
        if ((preset is null) == (model is null))
            throw new UsageException("give exactly one of --preset scout|maverick|behemoth or --model DIR");
        int hosts = a.Int("hosts", 1, 100_000) ?? throw new UsageException("missing required option --hosts");
        int gpus = a.Int("gpus-per-host", 1, 1024) ?? throw new UsageException("missing required option --gpus-per-host");
        long gpuMemory = Bytes(a, "gpu-memory") ?? throw new UsageException("missing required option --gpu-memory (e.g. 80GB)");
        var dtype = ParseDType(a.Optional("dtype") ?? "bf16");
        int? ranks = a.Int("attention-ranks", 1, 100_000);
        int? attentionDevices = a.Int("attention-devices", 1, 1024);
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
        a.EnsureAllUsed();

        var (config, modelName) = LoadModel(preset, model);

        var defaults = new PlacementOptions();
        var options = new PlacementOptions
        {
            AttentionRanks = ranks,
            AttentionDevicesPerRank = attentionDevices,
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
            if (outFile is not null) WritePlan(outcome.Plan, outFile);
        }
        else
        {
            Console.WriteLine();
            Console.WriteLine(outcome.Shortfall.Message);
            PrintMinimum(config, dtype, gpus, gpuMemory, options);
            if (outFile is not null) Console.WriteLine($"no plan written to {Path.GetFullPath(outFile)}: the model does not fit.");
        }
        return 0;
    }

    private static WeightDType ParseDType(string text) => text.ToLowerInvariant() switch
    {
        "bf16" or "bfloat16" => WeightDType.Bf16,
        "fp8" => WeightDType.Fp8,
        var s => throw new UsageException($"--dtype must be bf16 or fp8; got '{s}'"),
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

    private static long? Bytes(Arguments a, string name) => a.Optional(name) is { } s ? Bytes(s, name) : null;

    private static long Bytes(string text, string name) => ByteSize.TryParse(text, out long bytes)
        ? bytes
        : throw new UsageException($"--{name} expects a size such as 80GB, 79.6GiB or 512MB; got '{text}'");

    private static string Gb(long bytes) => ByteSize.FormatGb(bytes);

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private static void PrintModel(string name, Llama4TextConfig config, ModelFootprint f, PlacementOptions options, int hosts, int gpus, long gpuMemory)
    {
        Console.WriteLine(Inv($"model: {name}: {config.TotalParameters / 1e9:F1}B parameters ({config.ActiveParameters / 1e9:F1}B active), {config.NumHiddenLayers} layers, {f.MoeLayers.Length} MoE layers × {f.ExpertsPerLayer} experts"));
        Console.WriteLine(Inv($"weights ({f.DType.ToString().ToLowerInvariant()}{(f.DType == WeightDType.Fp8 ? ": routed experts fp8 + per-row scales, the rest bf16" : "")}): one expert {ByteSize.Format(f.ExpertBytes)}, routed experts {ByteSize.Format(f.RoutedExpertBytes)}, non-expert weights {ByteSize.Format(f.NonExpertBytes)} per attention rank"));
        string kv = options.KvBytesPerRank is { } budget
            ? Inv($"KV budget {ByteSize.Format(budget)} per attention rank")
            : Inv($"KV {ByteSize.Format(f.KvBytesPerSequence(options.ContextTokens))} per sequence of {options.ContextTokens} tokens × {options.Sequences} sequences = {ByteSize.Format(options.Sequences * f.KvBytesPerSequence(options.ContextTokens))} per attention rank");
        Console.WriteLine(kv);
        Console.WriteLine(Inv($"cluster: {hosts} host(s) × {gpus} GPU(s) × {ByteSize.Format(gpuMemory)} = {ByteSize.Format((long)hosts * gpus * gpuMemory)}, {options.Headroom * 100:0.#}% headroom per device"));
        Console.WriteLine();
    }

    private static void PrintPlan(PlacementPlan plan, bool fullLayout)
    {
        var ranksByDevice = plan.AttentionRanks
            .SelectMany(r => r.Devices.Select(d => (r.Silo, Device: d, r.Rank)))
            .ToLookup(x => (x.Silo, x.Device), x => x.Rank);
        Terminal.Table("memory per device (GB)",
            ["silo", "device", "capacity", "experts", "shards", "non-expert", "KV", "headroom", "free", "attention rank"],
            plan.Memory.Select(m => (IReadOnlyList<string>)
            [
                m.Silo, m.Device, Gb(m.CapacityBytes), Gb(m.ExpertBytes), m.ExpertShards.ToString(CultureInfo.InvariantCulture),
                Gb(m.NonExpertBytes), Gb(m.KvBytes), Gb(m.HeadroomBytes), Gb(m.FreeBytes),
                string.Join(",", ranksByDevice[(m.Silo, m.Device)]),
            ]));
        Console.WriteLine();
        Terminal.Table("attention ranks",
            ["rank", "silo", "devices", "non-expert GB", "KV GB"],
            plan.AttentionRanks.Select(r => (IReadOnlyList<string>)
            [
                r.Rank.ToString(CultureInfo.InvariantCulture), r.Silo, string.Join(",", r.Devices), Gb(r.NonExpertBytes), Gb(r.KvBytes),
            ]));
        if (plan.AttentionRanks.Any(r => r.Devices.Length > 1))
            Console.WriteLine("note: ranks on several devices assume tensor-parallel attention over KV heads; the engine runs a rank on one device today.");
        if (plan.ExpertShards.IsEmpty) return;

        Console.WriteLine();
        var deviceIndex = plan.Memory.Select((m, i) => (m, i)).ToDictionary(x => (x.m.Silo, x.m.Device), x => x.i);
        var byLayer = plan.ExpertShards.GroupBy(s => s.Layer).ToList();
        var spread = byLayer.Select(g => g.Select(s => (s.Silo, s.Device)).Distinct().Count()).ToList();
        int minExperts = plan.ExpertShards.Min(s => s.Experts.Length), maxExperts = plan.ExpertShards.Max(s => s.Experts.Length);
        Console.WriteLine(Inv($"expert shards: {plan.Footprint.MoeLayers.Length} MoE layers × {plan.ShardsPerLayer} shards × {plan.Replicas} replica(s) = {plan.ExpertShards.Length} shards of {(minExperts == maxExperts ? $"{minExperts}" : $"{minExperts}-{maxExperts}")} expert(s) ({ByteSize.Format(plan.ExpertShards.Max(s => s.Bytes))} each at most); one layer's shards sit on {spread.Min()}-{spread.Max()} distinct devices"));
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
        experts.Length == 1 ? Inv($"{experts[0]}") : Inv($"{experts[0]}-{experts[^1]}");

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
            string label = d.ToString().ToLowerInvariant();
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

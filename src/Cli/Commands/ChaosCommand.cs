using System.Globalization;
using Llama4Cluster.Cli.Chaos;
using Llama4Cluster.Cli.Chaos.Report;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>chaos --model DIR --scenario kill-expert|kill-attention|kill-gateway|stall-expert|kill-redis|rolling-restart [--streams N]
/// [--replicas R] [--seed S] [--json]</c> and the workload and cluster options: the fault drill (<see cref="ChaosDrill"/>).
/// Prints a table of the rounds (or one JSON object) and exits 1 when any stream was lost, failed or changed, except the
/// streams a killed gateway loses by design.
/// </summary>
internal static class ChaosCommand
{
    public static readonly string Usage =
        $"chaos --model DIR --scenario {ChaosScenarios.Choices} [--streams N] [--replicas R] [--seed S] [--max-tokens M] " +
        "[--prompt-tokens P] [--attention-silos A] [--expert-silos E] [--threads N] [--silo-addresses loopback|distinct] [--timeout SECONDS] [--stall-seconds S] [--json]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Run a fault drill on a cluster of silo processes: stream completions, inject the scenario's fault, and compare every token with a fault-free run.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        CommonOptions.Model,
        new("scenario", "NAME", "the fault to inject (see the usage line)"),
        new("streams", "N", "concurrent streams (default 8)"),
        new("replicas", "R", "replicas of each expert shard (default 1)"),
        new("seed", "S", "seed of the prompts (default 0)"),
        new("max-tokens", "M", "tokens per stream (default 64)"),
        new("prompt-tokens", "P", "prompt tokens per stream (default 16)"),
        new("attention-silos", "A", "attention silo processes (default 2)"),
        new("expert-silos", "E", "expert silo processes (default 2)"),
        new("threads", "N", "torch threads per silo (default 1)"),
        CommonOptions.SiloAddresses,
        new("timeout", "SECONDS", "longest a stream may take (default 300)"),
        new("stall-seconds", "S", "how long a stall scenario freezes its silo (default 5)"),
        CommonOptions.Json,
    ];

    public static int Run(Arguments a)
    {
        var settings = Parse(a);
        ChaosReport report;
        try
        {
            report = ChaosDrill.RunAsync(settings, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("llama4: chaos interrupted: every process it started was stopped");
            return 130;
        }
        if (settings.Json) Console.WriteLine(report.ToJson());
        else PrintTable(report);
        if (!report.Passed)
        {
            Console.Error.WriteLine($"llama4: chaos {settings.Scenario.Name()}: {Failures(report)}");
            return 1;
        }
        return 0;
    }

    /// <summary>The options as settings; every mistake is a <see cref="UsageException"/> (exit code 2).</summary>
    internal static ChaosSettings Parse(Arguments a)
    {
        string model = a.Required("model");
        string scenarioText = a.Required("scenario");
        var settings = new ChaosSettings
        {
            ModelDirectory = model,
            Scenario = ChaosScenarios.TryParse(scenarioText, out var scenario)
                ? scenario
                : throw new UsageException($"--scenario: expected one of {ChaosScenarios.Choices}; got '{scenarioText}'"),
            Streams = a.Int("streams", 1, 256) ?? 8,
            Replicas = a.Int("replicas", 1, 16) ?? 1,
            Seed = a.Int("seed") ?? 0,
            MaxTokens = a.Int("max-tokens", 1, 2048) ?? 64,
            PromptTokens = a.Int("prompt-tokens", 1, 8192) ?? 16,
            AttentionSilos = a.Int("attention-silos", 1, 32) ?? 2,
            ExpertSilos = a.Int("expert-silos", 1, 32) ?? 2,
            ThreadsPerSilo = a.Int("threads", 1, 256) ?? 1,
            DistinctAddresses = EngineArguments.SiloAddressMode(a),
            StreamTimeout = TimeSpan.FromSeconds(a.Double("timeout", 1, 86_400) ?? 300),
            StallDuration = TimeSpan.FromSeconds(a.Double("stall-seconds", 0.1, 3_600) ?? 5),
            Json = a.Flag("json"),
        };
        a.EnsureAllUsed();
        Check(settings);
        var config = Llama4ConfigReader.Load(model);
        if (settings.PromptTokens + settings.MaxTokens > config.MaxPositionEmbeddings)
            throw new UsageException($"--prompt-tokens {settings.PromptTokens} + --max-tokens {settings.MaxTokens} exceed the model's context of {config.MaxPositionEmbeddings} tokens");
        // One shard per expert silo (as many as the model has experts): each expert silo holds a shard of every MoE layer.
        return settings with { ShardsPerLayer = Math.Max(1, Math.Min(settings.ExpertSilos, config.NumLocalExperts)) };
    }

    private static void Check(ChaosSettings s)
    {
        if (!Directory.Exists(s.ModelDirectory))
            throw new UsageException($"--model: no such directory '{s.ModelDirectory}'");
        if (s.Replicas > s.ExpertSilos)
            throw new UsageException($"--replicas {s.Replicas} needs at least {s.Replicas} expert silos (--expert-silos {s.ExpertSilos}): a shard's replicas live on distinct silos");
        if (s.Scenario == ChaosScenario.KillAttention && s.AttentionSilos < 2)
            throw new UsageException("--scenario kill-attention needs --attention-silos 2 or more: a survivor to move the sequences to");
        if (s.Scenario is ChaosScenario.KillExpert or ChaosScenario.StallExpert && s.ExpertSilos < 2)
            throw new UsageException($"--scenario {s.Scenario.Name()} needs --expert-silos 2 or more: a survivor to take the shards");
    }

    private static void PrintTable(ChaosReport report)
    {
        var s = report.Setup;
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        Console.WriteLine($"llama4 chaos {s.Scenario.Name()}: seed {I(s.Seed)}; {I(s.Streams)} greedy streams x {I(s.MaxTokens)} tokens " +
                          $"(prompts of {I(s.PromptTokens)} token ids); {I(s.AttentionSilos)} attention + {I(s.ExpertSilos)} expert silos, " +
                          $"{I(s.Replicas)} replica(s) per expert shard");
        if (s.Fault.Length > 0) Console.WriteLine($"fault (after {I(s.FaultAtTokens)} streamed tokens): {s.Fault}");
        Terminal.Table("llama4 chaos (lost/duplicated/changed in tokens; stalls, detect and heal in ms from the fault)", ChaosReport.Headers, report.Rows());
        foreach (var note in report.Notes) Console.WriteLine("note: " + note);
        Console.WriteLine(report.Passed ? "result: passed (nothing lost, duplicated or changed)" : "result: FAILED (" + Failures(report) + ")");
    }

    /// <summary>What went wrong, in one line.</summary>
    private static string Failures(ChaosReport report)
    {
        var parts = new List<string>();
        foreach (var round in report.Rounds.Where(r => r.Bad > 0))
        {
            var first = round.Results.First(r => r.Bad);
            string why = first.Record.Error ?? (first.Record.Completed ? "its tokens differ from the fault-free run" : "incomplete");
            parts.Add($"{round.Name} round: {round.Bad} of {round.Streams} streams failed or changed " +
                      $"({round.Lost} tokens lost, {round.Duplicated} duplicated, {round.Changed} changed; first: stream {first.Record.Stream}: {why})");
        }
        if (report.Setup.FaultError is { } error) parts.Add("the fault's action failed: " + error);
        return parts.Count == 0 ? "no round ran" : string.Join("; ", parts);
    }
}

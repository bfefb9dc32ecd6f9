using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Benchmarks;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench batch --model DIR [--batch 1,8,32] [--prompt-tokens 128] [--gen-tokens 64] [--dtype auto|float32|bfloat16]
/// [--threads N] [--seed S] [--device cpu|cuda:N] [--quick] [--json]</c>: llama.cpp's <c>llama-batched-bench</c>
/// measurement on the engine's own step loop (<see cref="BatchBenchmark"/>). With --json, stdout is exactly one object,
/// <c>{"results": [{"batch": B, "prefill_tokens_per_s": P, "decode_tokens_per_s": D, ...}, ...], ...}</c>; otherwise a
/// table with each batch's decode tok/s over batch 1's. Progress goes to stderr. --quick skips the warm-up (tests).
/// </summary>
internal static class BenchBatchCommand
{
    public const string Usage = "bench batch --model DIR [--batch 1,8,32] [--prompt-tokens 128] [--gen-tokens 64] [--dtype auto|float32|bfloat16] " +
        "[--threads N] [--seed S] [--device cpu|cuda:N] [--batch-invariant] [--quick] [--json]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "The measurement of llama-batched-bench: prefill and decode tokens/s at each batch size, every sequence with its own prompt.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        CommonOptions.Model,
        new("batch", "LIST", "batch sizes, comma-separated (default 1,8,32)"),
        new("prompt-tokens", "N", "prompt tokens per sequence (default 128)"),
        new("gen-tokens", "N", "generated tokens per sequence (default 64)"),
        CommonOptions.DType,
        CommonOptions.Threads,
        new("seed", "S", "seed of the random prompts"),
        CommonOptions.Device,
        CommonOptions.BatchInvariant,
        CommonOptions.Quick,
        CommonOptions.Json,
    ];

    public static int Run(Arguments a)
    {
        string model = a.Required("model");
        if (!File.Exists(Path.Combine(model, "config.json")))
            throw new UsageException($"--model: '{model}' is not a checkpoint directory (no config.json)");
        var defaults = new BatchBenchmarkOptions { ModelDirectory = model };
        BatchBenchmarkOptions options;
        try
        {
            options = defaults with
            {
                Batches = a.IntList("batch") ?? defaults.Batches,
                PromptTokens = a.Int("prompt-tokens") ?? defaults.PromptTokens,
                GenTokens = a.Int("gen-tokens") ?? defaults.GenTokens,
                ComputeDType = ComputeDType.Resolve(a.Optional("dtype") ?? ComputeDType.Auto, model),
                Device = DeviceSpec.Parse(a.Optional("device") ?? "cpu"),
                Threads = a.Int("threads", 1, 1024),
                Seed = a.Int("seed") ?? defaults.Seed,
                WarmUp = !a.Flag("quick"),
                BatchInvariant = a.Flag("batch-invariant"),
            };
            bool json = a.Flag("json");
            a.EnsureAllUsed();
            BatchBenchmark.Check(options, Llama4ConfigReader.Load(model)); // before any weight is loaded
            var result = BatchBenchmark.Run(options, Terminal.Info);
            if (json) WriteJson(result);
            else WriteTable(result);
            return 0;
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    private static void WriteJson(BatchBenchmarkResult r)
    {
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            model = r.Model,
            machine = r.Machine,
            dtype = r.DType,
            threads = r.Threads,
            load_s = Math.Round(r.LoadSeconds, 4),
            prompt_tokens = r.PromptTokens,
            gen_tokens = r.GenTokens,
            results = r.Rows.Select(row => new
            {
                batch = row.Batch,
                prefill_tokens = row.PrefillTokens,
                prefill_s = Math.Round(row.PrefillSeconds, 5),
                prefill_tokens_per_s = Math.Round(row.PrefillTokensPerSecond, 2),
                decode_tokens = row.DecodeTokens,
                decode_s = Math.Round(row.DecodeSeconds, 5),
                decode_tokens_per_s = Math.Round(row.DecodeTokensPerSecond, 2),
                decode_ratio_to_batch1 = r.DecodeRatioToBatch1(row) is { } ratio ? Math.Round(ratio, 3) : (double?)null,
                steps = row.Steps,
            }),
        }));
    }

    private static void WriteTable(BatchBenchmarkResult r)
    {
        static string F(double v) => v.ToString(v >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture);
        Console.WriteLine($"machine: {r.Machine}; {r.Threads} torch threads");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"model: {r.Model} ({r.DType}), loaded in {r.LoadSeconds:F2} s"));
        Terminal.Table($"llama4 bench batch: {r.PromptTokens}-token prompts, {r.GenTokens} decode steps (decode ratio: ÷ batch 1, same run)",
            ["batch", "prefill tok/s", "prefill s", "decode tok/s", "decode s", "decode ratio"],
            r.Rows.Select(row => (IReadOnlyList<string>)[
                row.Batch.ToString(CultureInfo.InvariantCulture), F(row.PrefillTokensPerSecond), row.PrefillSeconds.ToString("F3", CultureInfo.InvariantCulture),
                F(row.DecodeTokensPerSecond), row.DecodeSeconds.ToString("F3", CultureInfo.InvariantCulture),
                r.DecodeRatioToBatch1(row)?.ToString("F2", CultureInfo.InvariantCulture) ?? "-"]));
    }
}

using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Kernels.Benchmarks;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench prefix-cache (--model DIR | --preset bench-0.7b) [--system-tokens N] [--rounds N] [--dtype] [--threads N] [--json]</c>:
/// time to first token of a shared system prompt (2,048 tokens by default), cold against served from the prefix cache,
/// and their ratio, measured in one run (<see cref="PrefixCacheBenchmark"/>).
/// </summary>
internal static class BenchPrefixCacheCommand
{
    public const string Usage = "bench prefix-cache (--model DIR | --preset bench-0.7b) [--system-tokens N] [--user-tokens N] [--rounds N] " +
        "[--dtype auto|float32|bfloat16] [--device cpu|cuda:N] [--threads N] [--json]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Multi-turn conversations with and without the prefix cache in one run: TTFT and prefill tokens saved.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        CommonOptions.Model,
        new("preset", "bench-0.7b", "generate the benchmark checkpoint instead of --model"),
        new("system-tokens", "N", "tokens of the shared system prompt"),
        new("user-tokens", "N", "tokens per user turn"),
        new("rounds", "N", "turns per conversation"),
        CommonOptions.DType,
        CommonOptions.Device,
        CommonOptions.Threads,
        CommonOptions.Json,
    ];

    public static int Run(Arguments a)
    {
        string? model = a.Optional("model");
        string? preset = a.Optional("preset");
        if (model is not null && preset is not null) throw new UsageException("give one of --model DIR and --preset NAME");
        if (model is not null && !File.Exists(Path.Combine(model, "config.json")))
            throw new UsageException($"--model: '{model}' is not a checkpoint directory (no config.json)");
        if (preset is not null && preset is not ("bench-0.7b" or "bench-0.8b" or "tiny-scout" or "tiny-maverick"))
            throw new UsageException($"--preset must be bench-0.7b, bench-0.8b, tiny-scout or tiny-maverick; got '{preset}'");
        var defaults = new PrefixCacheBenchmarkOptions();
        PrefixCacheBenchmarkOptions options;
        try
        {
            options = defaults with
            {
                ModelDirectory = model,
                Preset = preset ?? defaults.Preset,
                SystemTokens = a.Int("system-tokens", 1, 1 << 20) ?? defaults.SystemTokens,
                UserTokens = a.Int("user-tokens", 1, 1 << 20) ?? defaults.UserTokens,
                Rounds = a.Int("rounds", 1, 100) ?? defaults.Rounds,
                // auto: the checkpoint's dtype; the preset's checkpoint is written in bf16.
                ComputeDType = ComputeDType.ParseSetting(a.Optional("dtype") ?? ComputeDType.Auto)
                    ?? (model is null ? TorchSharp.torch.ScalarType.BFloat16 : ComputeDType.ForCheckpoint(model)),
                Device = DeviceSpec.Parse(a.Optional("device") ?? "cpu"),
                Threads = a.Int("threads", 1, 1024),
            };
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        bool json = a.Flag("json");
        a.EnsureAllUsed();
        var r = PrefixCacheBenchmark.Run(options, json ? null : Terminal.Info);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = r.Model, machine = r.Machine, dtype = r.DType, system_tokens = r.SystemTokens, prompt_tokens = r.PromptTokens,
                block_size = r.BlockSize, cached_tokens = r.CachedTokens, cold_ttft_ms = r.ColdMs, cached_ttft_ms = r.CachedMs,
                cold_ttft_median_ms = r.ColdMedianMs, cached_ttft_median_ms = r.CachedMedianMs, speedup = r.Speedup,
            }));
            return 0;
        }

        string F(double v) => v.ToString("F1", CultureInfo.InvariantCulture);
        Console.WriteLine($"machine: {r.Machine}");
        Terminal.Table($"llama4 bench prefix-cache: {r.Model}, {r.DType}, {r.PromptTokens}-token prompts with a shared {r.SystemTokens}-token system prompt",
            ["case", "TTFT median (ms)", "runs (ms)"],
            [
                ["cold (nothing cached)", F(r.ColdMedianMs), string.Join(" ", r.ColdMs.Select(F))],
                [$"cached ({r.CachedTokens} tokens restored, blocks of {r.BlockSize})", F(r.CachedMedianMs), string.Join(" ", r.CachedMs.Select(F))],
            ]);
        Console.WriteLine($"speedup (cold ÷ cached, same run): {r.Speedup.ToString("F2", CultureInfo.InvariantCulture)}x");
        return 0;
    }
}

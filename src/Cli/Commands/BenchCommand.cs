using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Kernels.Benchmarks;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench kernels [--model DIR] [--quick] [--threads N] [--json]</c>: decode MoE weight streaming and
/// decode attention against the memory bandwidth, prefill grouped experts against a dense GEMM, all
/// measured in the same run, printed as ratios.
/// </summary>
internal static class BenchCommand
{
    public const string Usage = "bench kernels [--model DIR] [--quick] [--threads N] [--json]";

    /// <summary>What <c>bench kernels --help</c> says it does.</summary>
    public const string Summary =
        "The kernels against this machine's limits in one run: decode MoE weight streaming and decode attention against the " +
        "memory bandwidth, prefill grouped experts against a dense GEMM; printed as ratios.";

    /// <summary>The options of <c>bench kernels</c>.</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        new("model", "DIR", "measure one MoE layer of this checkpoint (default: a random layer of the benchmark shape)"),
        CommonOptions.Quick, CommonOptions.Threads, CommonOptions.Json,
    ];

    /// <summary><c>llama4 bench SUB</c>: every benchmark.</summary>
    public static CliCommand Group { get; } = CliCommand.Group("bench",
        "Benchmarks. Each reports ratios against a baseline measured in the same run (the machines are noisy).",
    [
        new("kernels", Usage, Summary, Options, Kernels),
        new("batch", BenchBatchCommand.Usage, BenchBatchCommand.Summary, BenchBatchCommand.Options, BenchBatchCommand.Run),
        new("cluster", ClusterBenchmark.Usage, ClusterBenchmark.Summary, ClusterBenchmark.Options, ClusterBenchmark.Run),
        new("serve", BenchServeCommand.Usage, BenchServeCommand.Summary, BenchServeCommand.Options, BenchServeCommand.Run),
        new("prefix-cache", BenchPrefixCacheCommand.Usage, BenchPrefixCacheCommand.Summary, BenchPrefixCacheCommand.Options, BenchPrefixCacheCommand.Run),
        new("guided", GuidedBenchmark.Usage, GuidedBenchmark.Summary, GuidedBenchmark.Options, GuidedBenchmark.Run),
        new("vision", BenchVisionCommand.Usage, BenchVisionCommand.Summary, BenchVisionCommand.Options, BenchVisionCommand.Run),
    ]);

    private static int Kernels(Arguments a)
    {
        string? model = a.Optional("model");
        if (model is not null && !File.Exists(Path.Combine(model, "config.json")))
            throw new UsageException($"--model: '{model}' is not a checkpoint directory (no config.json)");
        bool quick = a.Flag("quick");
        bool json = a.Flag("json");
        int? threads = a.Int("threads", 1, 1024);
        a.EnsureAllUsed();

        var options = new KernelBenchmarkOptions
        {
            ModelDirectory = model,
            Threads = threads,
            SecondsPerCase = quick ? 0.3 : 1.5,
            PrefillTokens = quick ? 512 : 2048,
        };
        var report = KernelBenchmark.Run(options, Terminal.Info);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                machine = report.Machine,
                threads = report.Threads,
                bandwidth_gbps = report.BandwidthGBps,
                torch_sum_gbps = report.TorchSumGBps,
                shape = report.Shape,
                rows = report.Rows.Select(r => new { @case = r.Case, unit = r.Unit, measured = r.Measured, baseline_name = r.BaselineName, baseline = r.Baseline, ratio = r.Ratio, target = r.Target }),
            }));
            return 0;
        }
        string F(double v) => v.ToString(v >= 100 ? "F0" : "F2", CultureInfo.InvariantCulture);
        Console.WriteLine($"machine: {report.Machine}; {report.Threads} threads");
        Console.WriteLine($"memory read: {F(report.BandwidthGBps)} GB/s (C# AVX probe), {F(report.TorchSumGBps)} GB/s (torch sum)");
        Console.WriteLine($"shape: {report.Shape}");
        Terminal.Table("llama4 bench kernels (ratios are measured ÷ baseline, same run)",
            ["case", "measured", "unit", "baseline", "ratio", "target"],
            report.Rows.Select(r => (IReadOnlyList<string>)[
                r.Case, F(r.Measured), r.Unit, $"{F(r.Baseline)} ({r.BaselineName})",
                r.Ratio.ToString("F2", CultureInfo.InvariantCulture),
                $">= {r.Target.ToString("F2", CultureInfo.InvariantCulture)} {(r.MeetsTarget ? "met" : "not met")}"]));
        return 0;
    }
}

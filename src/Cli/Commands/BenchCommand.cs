using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Kernels.Benchmarks;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench kernels [--model DIR] [--quick] [--threads N] [--json]</c>: decode MoE weight streaming and
/// decode attention against the memory bandwidth, prefill grouped experts against a dense GEMM, all
/// measured in the same run, printed as ratios.
/// </summary>
internal static class BenchCommand
{
    public const string Usage = "bench kernels [--model DIR] [--quick] [--threads N] [--json] | " + ClusterBenchmark.Usage + " | " + BenchServeCommand.Usage + " | " +
        BenchPrefixCacheCommand.Usage + " | " + GuidedBenchmark.Usage + " | " + BenchBatchCommand.Usage + " | " + BenchVisionCommand.Usage;

    public static int Run(string[] args)
    {
        if (args.Length > 0 && args[0] == "cluster")
            return ClusterBenchmark.Run(new Arguments(args.Skip(1), new HashSet<string> { "quick", "json" }));
        if (args.Length > 0 && args[0] == "serve")
            return BenchServeCommand.Run(new Arguments(args.Skip(1), new HashSet<string> { "json" }));
        if (args.Length > 0 && args[0] == "prefix-cache")
            return BenchPrefixCacheCommand.Run(new Arguments(args.Skip(1), new HashSet<string> { "json" }));
        if (args.Length > 0 && args[0] == "batch")
            return BenchBatchCommand.Run(new Arguments(args.Skip(1), new HashSet<string> { "quick", "json" }));
        if (args.Length > 0 && args[0] == "vision")
            return BenchVisionCommand.Run(new Arguments(args.Skip(1), new HashSet<string> { "json" }));
        if (args.Length > 0 && args[0] == "guided")
            return GuidedBenchmark.Run(new Arguments(args.Skip(1), new HashSet<string> { "quick", "json" }));
        if (args.Length == 0 || args[0] != "kernels")
            throw new UsageException($"bench: expected 'bench kernels', 'bench batch', 'bench cluster', 'bench serve', 'bench prefix-cache', 'bench guided' or 'bench vision'{(args.Length > 0 ? $"; got '{args[0]}'" : "")}");
        var a = new Arguments(args.Skip(1), new HashSet<string> { "quick", "json" });
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

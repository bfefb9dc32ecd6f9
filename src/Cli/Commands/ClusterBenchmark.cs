using System.Globalization;
using Llama4Cluster.Cli.Cluster;
using Llama4Cluster.Cli.Engines;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench cluster --model DIR [--silos N] [--quick] [--dtype auto|float32|bfloat16] [--threads N]</c>: in one run, greedy
/// decode step time at batch 1 and 32 on an ephemeral cluster of N silo processes ÷ <see cref="LocalEngine"/> in this
/// process; the size of one dispatch payload at that batch echoed through the data plane the cluster uses
/// (<c>--data-plane orleans</c>: a grain call; <c>tcp</c>: the socket data plane to a silo, framing and tensor codec
/// included) ÷ the same bytes over raw loopback TCP (measured here, now; for tcp also the same bytes echoed untouched by
/// that silo's socket, the cross-process baseline); and messages per decode step (step calls + expert dispatches, from
/// the ranks' counters).
/// </summary>
internal static class ClusterBenchmark
{
    public const string Usage = "bench cluster --model DIR [--silos N] [--quick] [--dtype auto|float32|bfloat16] [--threads N] [--data-plane orleans|tcp] [--expert-replicas R] [--silo-addresses loopback|distinct]";

    private sealed record Case(int Batch, double LocalStepMs, double ClusterStepMs, double Messages, long DispatchBytesPerStep, long PayloadBytes,
        double TransportBytesPerSecond, double TcpBytesPerSecond, double? RemoteTcpBytesPerSecond, StepBreakdown Breakdown);

    /// <summary>
    /// Where a decode step's time went, per step, from the attention rank's counters: inside the rank's <c>StepAsync</c>, of
    /// which waiting for expert shards, and the compute the shards reported. The rest of the cluster step is the engine's
    /// call into the rank; the rest of the wait is transport and scheduling.
    /// </summary>
    private sealed record StepBreakdown(double RankMs, double DispatchWaitMs, double ShardComputeMs)
    {
        public static StepBreakdown Between(Contracts.Attention.AttentionRankInfo a, Contracts.Attention.AttentionRankInfo b) =>
            new(b.StepMilliseconds - a.StepMilliseconds, b.DispatchWaitMilliseconds - a.DispatchWaitMilliseconds,
                b.ShardComputeMilliseconds - a.ShardComputeMilliseconds);

        public StepBreakdown Minus(StepBreakdown o) => new(RankMs - o.RankMs, DispatchWaitMs - o.DispatchWaitMs, ShardComputeMs - o.ShardComputeMs);

        public StepBreakdown PerStep(int steps) => new(RankMs / steps, DispatchWaitMs / steps, ShardComputeMs / steps);
    }

    private static TorchSharp.torch.ScalarType ParseDType(Arguments a, string model)
    {
        try
        {
            return ComputeDType.Resolve(a.Optional("dtype") ?? ComputeDType.Auto, model);
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }
    }

    public static int Run(Arguments a)
    {
        string model = a.Required("model");
        if (!File.Exists(Path.Combine(model, "config.json")))
            throw new UsageException($"--model: '{model}' is not a checkpoint directory (no config.json)");
        int silos = a.Int("silos", 1, 64) ?? 3;
        bool quick = a.Flag("quick");
        int? threads = a.Int("threads", 1, 1024);
        var dtype = ParseDType(a, model);
        string dataPlane = a.Optional("data-plane") ?? "tcp";
        if (dataPlane is not ("orleans" or "tcp")) throw new UsageException($"--data-plane: expected orleans or tcp; got '{dataPlane}'");
        int replicas = a.Int("expert-replicas", 1, 16) ?? 1;
        bool distinct = EngineArguments.SiloAddressMode(a);
        a.EnsureAllUsed();

        var config = Llama4ConfigReader.Load(model);
        int[] batches = [1, 32];
        int decodeSteps = quick ? 6 : 24;
        var prompts = Enumerable.Range(0, batches.Max())
            .Select(i => (IReadOnlyList<int>)Enumerable.Range(0, 8).Select(j => 3 + (i * 131 + j * 53) % (config.VocabSize - 3)).ToArray()).ToArray();
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = decodeSteps + 1, IgnoreEos = true };
        IReadOnlyList<GenerationRequest> Requests(int b) => prompts.Take(b).Select(p => new GenerationRequest(p, sampling)).ToArray();

        var local = MeasureLocal(model, dtype, threads, batches, Requests);

        bool fp32 = dtype == TorchSharp.torch.ScalarType.Float32;
        var options = new LocalClusterOptions
        {
            ModelDirectory = model,
            Silos = silos,
            ShardsPerLayer = Math.Min(silos, config.NumLocalExperts),
            ExpertReplicas = replicas,
            AttentionRanks = 1,
            DType = ComputeDType.Name(dtype),
            WireDType = fp32 ? "fp32" : "bf16",
            ThreadsPerSilo = threads ?? Math.Max(1, Environment.ProcessorCount / silos),
            DataPlane = dataPlane,
            DistinctAddresses = distinct,
        };
        var cases = new List<Case>();
        using (var cluster = ClusterCliEngine.StartAsync(options, config, Terminal.Info).GetAwaiter().GetResult())
        {
            var rank = cluster.Engine.Rank(0);
            var client = cluster.Cluster.Client;
            using var plane = dataPlane == "tcp" ? new DataPlaneClient(client.ServiceProvider.GetRequiredService<Serializer>()) : null;
            // The socket of the silo that holds the first MoE layer's first shard (the dispatches of this run go to such sockets).
            int moeLayer = Enumerable.Range(0, config.NumHiddenLayers).First(i => config.MoeLayers[i]);
            var endpoint = plane is null ? null : cluster.Engine.Shard(moeLayer, 0).GetDataEndpointAsync().GetAwaiter().GetResult();
            foreach (int b in batches)
            {
                cluster.GenerateAsync(Requests(b)).GetAwaiter().GetResult(); // warm-up
                // The same prompts' prefill alone, so the decode steps' share of the rank's counters can be told apart.
                var start = rank.DescribeAsync().GetAwaiter().GetResult();
                cluster.GenerateAsync(Requests(b).Select(r => r with { Sampling = r.Sampling with { MaxTokens = 1 } }).ToArray()).GetAwaiter().GetResult();
                var before = rank.DescribeAsync().GetAwaiter().GetResult();
                var prefill = StepBreakdown.Between(start, before);
                cluster.GenerateAsync(Requests(b)).GetAwaiter().GetResult();
                var after = rank.DescribeAsync().GetAwaiter().GetResult();
                var t = cluster.LastTimings!;
                long calls = after.DispatchCalls - before.DispatchCalls;
                long bytes = after.DispatchBytesSent - before.DispatchBytesSent + after.DispatchBytesReceived - before.DispatchBytesReceived;
                // Per step: one StepAsync per rank with sequences, plus the dispatches (prefill included: averaged over all steps).
                double messages = 1 + (double)calls / t.Steps;
                long payload = calls == 0 ? 0 : (after.DispatchBytesSent - before.DispatchBytesSent) / calls;
                var sample = DataPlaneBenchmark.RunAsync(client, [(int)Math.Max(64, payload)], quick ? 15 : 60, plane, endpoint).GetAwaiter().GetResult()[0];
                double transport = plane is null ? sample.OrleansBytesPerSecond : sample.DataPlaneBytesPerSecond!.Value;
                cases.Add(new Case(b, local[b], StepMs(t), messages, bytes / Math.Max(1, t.Steps), payload, transport, sample.TcpBytesPerSecond,
                    sample.RemoteTcpBytesPerSecond, StepBreakdown.Between(before, after).Minus(prefill).PerStep(Math.Max(1, t.Steps - 1))));
            }
        }

        Report(model, config, options, decodeSteps, cases);
        return 0;
    }

    private static double StepMs(GenerationTimings t) => t.DecodeSeconds / Math.Max(1, t.Steps - 1) * 1e3;

    /// <summary>The baseline: the same requests on a LocalEngine in this process, step ms per batch size.</summary>
    private static Dictionary<int, double> MeasureLocal(string model, TorchSharp.torch.ScalarType dtype, int? threads, int[] batches,
        Func<int, IReadOnlyList<GenerationRequest>> requests)
    {
        var local = new Dictionary<int, double>();
        Terminal.Info($"bench cluster: LocalEngine in this process ({ComputeDType.Name(dtype)}, {threads?.ToString(CultureInfo.InvariantCulture) ?? "all"} torch threads)");
        using (var engine = LocalEngine.Load(model, new LocalEngineOptions { ComputeDType = dtype, Threads = threads }))
        {
            foreach (int b in batches)
            {
                engine.GenerateAsync(requests(b)).GetAwaiter().GetResult(); // warm-up
                engine.GenerateAsync(requests(b)).GetAwaiter().GetResult();
                local[b] = StepMs(engine.LastTimings!);
            }
        }
        return local;
    }

    private static void Report(string model, Llama4TextConfig config, LocalClusterOptions options, int decodeSteps, List<Case> cases)
    {
        string F(double v, string f = "F2") => v.ToString(f, CultureInfo.InvariantCulture);
        Console.WriteLine($"model: {model} (hidden {config.HiddenSize}, {config.NumLocalExperts} experts, top-{config.NumExpertsPerToken}, {config.NumHiddenLayers} layers); " +
                          $"{options.Silos} silo processes, {options.ShardsPerLayer} shards/layer × {options.ExpertReplicas} replica(s), {options.DType}, wire {options.WireDType}, data plane {options.DataPlane}; {decodeSteps} decode steps");
        Terminal.Table("llama4 bench cluster (ratios are measured ÷ baseline, same run)",
            ["batch", "local step ms", "cluster step ms", "step ratio (target <= 1.25 at 32)", "dispatch payload B", $"{options.DataPlane} MB/s", "raw TCP MB/s",
                "bytes/s ratio (target >= 0.5)", "raw TCP x-proc MB/s", "ratio to x-proc", "messages/step", "rank ms/step", "shard wait ms/step", "shard compute ms/step"],
            cases.Select(c => (IReadOnlyList<string>)[
                c.Batch.ToString(CultureInfo.InvariantCulture), F(c.LocalStepMs), F(c.ClusterStepMs), F(c.ClusterStepMs / c.LocalStepMs),
                c.PayloadBytes.ToString(CultureInfo.InvariantCulture), F(c.TransportBytesPerSecond / 1e6, "F0"), F(c.TcpBytesPerSecond / 1e6, "F0"),
                F(c.TransportBytesPerSecond / c.TcpBytesPerSecond),
                c.RemoteTcpBytesPerSecond is { } x ? F(x / 1e6, "F0") : "-",
                c.RemoteTcpBytesPerSecond is { } y ? F(c.TransportBytesPerSecond / y) : "-", F(c.Messages, "F1"),
                F(c.Breakdown.RankMs), F(c.Breakdown.DispatchWaitMs), F(c.Breakdown.ShardComputeMs)]));
    }
}

using System.Globalization;
using Llama4Cluster.Cli.Cluster;
using Llama4Cluster.Cli.Engines;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Cluster.Engine;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench cluster --model DIR [--silos N] [--quick] [--dtype auto|float32|bfloat16] [--threads N]</c>: in one run, greedy
/// decode step time at batch 1 and 32 on an ephemeral cluster of N silo processes ÷ <see cref="LocalEngine"/> in this
/// process; the size of one dispatch payload at that batch echoed through the data plane the cluster uses
/// (<c>--data-plane orleans</c>: a grain call; <c>tcp</c>: the socket data plane to a silo, framing and tensor codec
/// included) ÷ the same bytes over raw loopback TCP (measured here, now; for tcp also the same bytes echoed untouched by
/// that silo's socket, the cross-process baseline); and messages per decode step (step calls + expert dispatches, from
/// the ranks' counters). With <c>--stages K</c> (and <c>--ranks R</c>) it reports every pipeline stage's compute, hand-off
/// and dispatch ms per decode step and its bubble, the idle share of the decode window (<see cref="StageCost"/>);
/// <c>--shared-experts shards</c> runs the shared experts as shards. <c>--json</c>: exactly one JSON object on stdout.
/// </summary>
internal static class ClusterBenchmark
{
    public const string Usage = "bench cluster --model DIR [--silos N] [--quick] [--dtype auto|float32|bfloat16] [--threads N] [--data-plane orleans|tcp] [--expert-replicas R] " +
        "[--silo-addresses loopback|distinct] [--ranks R] [--stages K] [--shared-experts rank|shards] [--json]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Decode steps of an ephemeral cluster of silo processes against the local engine in the same run: per-stage compute, hand-off and dispatch time, the bubble, and each silo's busy share.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        CommonOptions.Model,
        new("silos", "N", "silo processes (default 3)"),
        CommonOptions.Quick,
        CommonOptions.DType,
        CommonOptions.Threads,
        new("data-plane", "tcp|orleans", "what carries expert activations (default tcp)"),
        new("expert-replicas", "R", "replicas of each expert shard (default 1)"),
        CommonOptions.SiloAddresses,
        new("ranks", "R", "attention ranks (default 1)"),
        new("stages", "K", "pipeline stages per rank (default 1)"),
        new("shared-experts", "rank|shards", "shared experts with the rank or as shards (default rank)"),
        CommonOptions.Json,
    ];

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
        int ranks = a.Int("ranks", 1, 64) ?? 1;
        int stages = a.Int("stages", 1, 64) ?? 1;
        string shared = a.Optional("shared-experts") ?? "rank";
        if (shared is not ("rank" or "shards")) throw new UsageException($"--shared-experts: expected rank or shards; got '{shared}'");
        bool json = a.Flag("json");
        a.EnsureAllUsed();

        var config = Llama4ConfigReader.Load(model);
        if (stages > config.NumHiddenLayers) throw new UsageException($"--stages {stages}: the model has {config.NumHiddenLayers} layers; use at most that many stages");
        int[] batches = [1, 32];
        int decodeSteps = quick ? 6 : 24;
        var prompts = Enumerable.Range(0, batches.Max())
            .Select(i => (IReadOnlyList<int>)Enumerable.Range(0, 8).Select(j => 3 + (i * 131 + j * 53) % (config.VocabSize - 3)).ToArray()).ToArray();
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = decodeSteps + 1, IgnoreEos = true };
        IReadOnlyList<GenerationRequest> Requests(int b) => prompts.Take(b).Select(p => new GenerationRequest(p, sampling)).ToArray();

        // Freshly started processes run tier-0 code until .NET's tiered compilation has recompiled the hot methods, which
        // took batch-1 cluster steps from about 35 to 55-67 ms here and needed 5-7 s of steps to settle: every case first runs for a while.
        var warmUp = TimeSpan.FromSeconds(quick ? 5 : 10);
        var local = MeasureLocal(model, dtype, threads, batches, Requests, warmUp);

        bool fp32 = dtype == TorchSharp.torch.ScalarType.Float32;
        var options = new LocalClusterOptions
        {
            ModelDirectory = model,
            Silos = silos,
            ShardsPerLayer = Math.Min(silos, config.NumLocalExperts),
            ExpertReplicas = replicas,
            AttentionRanks = ranks,
            Stages = stages,
            SharedExperts = shared == "shards" ? SharedExpertPlacement.Shards : SharedExpertPlacement.Rank,
            DType = ComputeDType.Name(dtype),
            WireDType = fp32 ? "fp32" : "bf16",
            ThreadsPerSilo = threads ?? Math.Max(1, Environment.ProcessorCount / silos),
            DataPlane = dataPlane,
            DistinctAddresses = distinct,
        };
        var cases = new List<ClusterBenchmarkCase>();
        using (var cluster = ClusterCliEngine.StartAsync(options, config, Terminal.Info).GetAwaiter().GetResult())
        {
            var client = cluster.Cluster.Client;
            using var plane = dataPlane == "tcp" ? new DataPlaneClient(client.ServiceProvider.GetRequiredService<Serializer>()) : null;
            // The socket of the silo that holds the first MoE layer's first shard (the dispatches of this run go to such sockets).
            int moeLayer = Enumerable.Range(0, config.NumHiddenLayers).First(i => config.MoeLayers[i]);
            var endpoint = plane is null ? null : cluster.Engine.Shard(moeLayer, 0).GetDataEndpointAsync().GetAwaiter().GetResult();
            foreach (int b in batches)
                cases.Add(MeasureCase(cluster, Requests(b), b, local[b], quick, plane, endpoint, warmUp));
        }

        if (json) ClusterBenchmarkReport.Json(model, options, decodeSteps, cases);
        else ClusterBenchmarkReport.Table(model, config, options, decodeSteps, cases);
        return 0;
    }

    /// <summary>One batch size on the running cluster: warm-up rounds (<see cref="WarmUp"/>), the prompts' prefill alone, then the full run, with every
    /// stage's counters read between them so the decode window's share can be told apart.</summary>
    private static ClusterBenchmarkCase MeasureCase(ClusterCliEngine cluster, IReadOnlyList<GenerationRequest> requests, int b, double localStepMs, bool quick,
        DataPlaneClient? plane, Contracts.Experts.DataEndpoint? endpoint, TimeSpan warmUp)
    {
        int ranks = cluster.Engine.AttentionRanks;
        WarmUp($"cluster batch {b}", warmUp, () =>
        {
            cluster.GenerateAsync(requests).GetAwaiter().GetResult();
            return StepMs(cluster.LastTimings!);
        });
        var start = DescribeAll(cluster.Engine, ranks);
        cluster.GenerateAsync(requests.Select(r => r with { Sampling = r.Sampling with { MaxTokens = 1 } }).ToArray()).GetAwaiter().GetResult();
        var before = DescribeAll(cluster.Engine, ranks);
        cluster.GenerateAsync(requests).GetAwaiter().GetResult();
        var after = DescribeAll(cluster.Engine, ranks);
        var t = cluster.LastTimings!;
        // Messages and bytes: every stage of every rank; the breakdown: rank 0's first stage (its whole step).
        long calls = Sum(after, i => i.DispatchCalls) - Sum(before, i => i.DispatchCalls);
        long sent = Sum(after, i => i.DispatchBytesSent) - Sum(before, i => i.DispatchBytesSent);
        long bytes = sent + Sum(after, i => i.DispatchBytesReceived) - Sum(before, i => i.DispatchBytesReceived);
        long handOffs = Sum(after, i => i.HandOffs) - Sum(before, i => i.HandOffs);
        // Per step: one StepAsync per rank with sequences, the hand-offs, plus the dispatches (prefill included: averaged over all steps).
        double messages = Math.Min(ranks, b) + (double)(calls + handOffs) / t.Steps;
        long payload = calls == 0 ? 0 : sent / calls;
        var sample = DataPlaneBenchmark.RunAsync(cluster.Cluster.Client, [(int)Math.Max(64, payload)], quick ? 15 : 60, plane, endpoint).GetAwaiter().GetResult()[0];
        double transport = plane is null ? sample.OrleansBytesPerSecond : sample.DataPlaneBytesPerSecond!.Value;
        // The same round trip after a pause as long as a decode step's gap between dispatches, so the threads on both sides sleep
        // first: what a dispatch pays at batch 1. Its baseline: raw TCP after the same pause (to the silo's socket when tcp).
        var idle = DataPlaneBenchmark.RunAsync(cluster.Cluster.Client, [(int)Math.Max(64, payload)], quick ? 9 : 25, plane, endpoint, IdleGap)
            .GetAwaiter().GetResult()[0];
        var idleTrip = new IdleRoundTrip(plane is null ? idle.OrleansMicroseconds : idle.DataPlaneMicroseconds!.Value, idle.RemoteTcpMicroseconds ?? idle.TcpMicroseconds);
        var prefill = StepBreakdown.Between(start[0][0], before[0][0]);
        int decode = Math.Max(1, t.Steps - 1);
        var stageCosts = Enumerable.Range(0, ranks).SelectMany(r => Enumerable.Range(0, after[r].Count)
            .Select(s => StageCost.Of(start[r][s], before[r][s], after[r][s], decode, t.DecodeSeconds * 1e3))).ToArray();
        return new ClusterBenchmarkCase(b, localStepMs, StepMs(t), messages, bytes / Math.Max(1, t.Steps), payload, transport, sample.TcpBytesPerSecond,
            sample.RemoteTcpBytesPerSecond, StepBreakdown.Between(before[0][0], after[0][0]).Minus(prefill).PerStep(decode), stageCosts, idleTrip);
    }

    /// <summary>The pause before each idle round trip: about the gap between two MoE layers' dispatches of a batch-1 decode step here.</summary>
    private static readonly TimeSpan IdleGap = TimeSpan.FromMilliseconds(5);

    /// <summary>Every stage of every rank, described now.</summary>
    private static IReadOnlyList<AttentionRankInfo>[] DescribeAll(ClusterEngine engine, int ranks) =>
        Enumerable.Range(0, ranks).Select(r => engine.DescribeStagesAsync(r).GetAwaiter().GetResult()).ToArray();

    private static long Sum(IReadOnlyList<AttentionRankInfo>[] all, Func<AttentionRankInfo, long> f) => all.SelectMany(r => r).Sum(f);

    private static double StepMs(GenerationTimings t) => t.DecodeSeconds / Math.Max(1, t.Steps - 1) * 1e3;

    /// <summary>The baseline: the same requests on a LocalEngine in this process, step ms per batch size.</summary>
    private static Dictionary<int, double> MeasureLocal(string model, TorchSharp.torch.ScalarType dtype, int? threads, int[] batches,
        Func<int, IReadOnlyList<GenerationRequest>> requests, TimeSpan warmUp)
    {
        var local = new Dictionary<int, double>();
        Terminal.Info($"bench cluster: LocalEngine in this process ({ComputeDType.Name(dtype)}, {threads?.ToString(CultureInfo.InvariantCulture) ?? "all"} torch threads)");
        using (var engine = LocalEngine.Load(model, new LocalEngineOptions { ComputeDType = dtype, Threads = threads }))
        {
            foreach (int b in batches)
            {
                WarmUp($"local batch {b}", warmUp, () =>
                {
                    engine.GenerateAsync(requests(b)).GetAwaiter().GetResult();
                    return StepMs(engine.LastTimings!);
                });
                engine.GenerateAsync(requests(b)).GetAwaiter().GetResult();
                local[b] = StepMs(engine.LastTimings!);
            }
        }
        return local;
    }

    /// <summary>Runs <paramref name="round"/> (which returns its decode ms per step) for at least <paramref name="least"/> and at
    /// least twice, printing each round, so the measurement that follows sees optimised code and warm caches.</summary>
    private static void WarmUp(string what, TimeSpan least, Func<double> round)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 1; i <= 2 || watch.Elapsed < least; i++)
            Terminal.Info($"bench cluster: warm-up {what}, round {i}: {round().ToString("F2", CultureInfo.InvariantCulture)} ms/step");
    }
}

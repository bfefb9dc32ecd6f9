using System.Diagnostics;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;

namespace Llama4Cluster.Kernels.Cpu;

/// <summary>
/// Measures, in one process, the memory bandwidth and how fast decode-sized calls stream bf16
/// weights through this library's kernels and through TorchSharp; no console I/O (the CLI prints
/// the result).
/// </summary>
public static unsafe class DecodeBenchmark
{
    /// <summary>Pause before each timed block, longer than libtorch's OpenMP spin-wait.</summary>
    private const int QuietMilliseconds = 300;

    /// <summary>Runs the benchmark; takes a few seconds and ~0.5 GiB (default options).</summary>
    public static DecodeBenchmarkResult Run(DecodeBenchmarkOptions? options = null)
    {
        options ??= new DecodeBenchmarkOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Experts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.Iterations, 1);
        int previousTorchThreads = torch.get_num_threads();
        // Compare like with like: libtorch gets exactly as many threads as the kernel pool.
        torch.set_num_threads(options.Threads);
        using var pool = new CpuWorkerPool(options.Threads);
        try
        {
            using var scope = torch.NewDisposeScope();
            using var inference = torch.inference_mode();
            var bandwidth = MeasureBandwidth(options, pool);
            Thread.Sleep(QuietMilliseconds);
            double torchSum = MemoryBandwidth.MeasureTorchSum(options.BandwidthBytes, 5);

            int d = options.Hidden, f = options.Intermediate, e = options.Experts;
            torch.manual_seed(1234);
            var gateUp = new torch.Tensor[e];
            var down = new torch.Tensor[e];
            var weights = new Bf16ExpertWeights[e];
            for (int i = 0; i < e; i++)
            {
                gateUp[i] = torch.randn(2 * f, d, dtype: torch.float32).MulInPlace(0.02f).to(torch.bfloat16);
                down[i] = torch.randn(d, f, dtype: torch.float32).MulInPlace(0.02f).to(torch.bfloat16);
                weights[i] = new Bf16ExpertWeights(TensorData.Pointer(gateUp[i]), TensorData.Pointer(down[i]), d, f);
            }

            var cases = new List<DecodeBenchmarkCase>();
            foreach (int batch in new[] { 1, 8 })
            {
                cases.Add(MoeCase(options, pool, batch, gateUp, down, weights, bandwidth.Median));
            }

            foreach (int batch in new[] { 1, 8 })
            {
                cases.Add(LinearCase(options, pool, batch, gateUp, bandwidth.Median));
            }

            GC.KeepAlive(gateUp);
            GC.KeepAlive(down);
            return new DecodeBenchmarkResult(
                options, Bf16MatMul.Isa.ToString(), bandwidth.Median, bandwidth.Best, torchSum, cases);
        }
        finally
        {
            torch.set_num_threads(previousTorchThreads);
        }
    }

    private static (double Median, double Best) MeasureBandwidth(DecodeBenchmarkOptions options, CpuWorkerPool pool)
    {
        var passes = MemoryBandwidth.MeasurePasses(options.BandwidthBytes, 7, pool);
        Array.Sort(passes);
        return (passes[passes.Length / 2], passes[^1]);
    }

    /// <summary>Top-1 MoE layer: call i routes token t to expert (i·B + t) mod E, so consecutive
    /// calls read different experts and no call finds its weights in cache.</summary>
    private static DecodeBenchmarkCase MoeCase(
        DecodeBenchmarkOptions options, CpuWorkerPool pool, int batch,
        torch.Tensor[] gateUp, torch.Tensor[] down, Bf16ExpertWeights[] weights, double bandwidth)
    {
        int d = options.Hidden, e = weights.Length;
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(batch, d, dtype: torch.float32);
        var xBf16 = x.to(torch.bfloat16);
        var xHost = x.data<float>().ToArray();
        var y = new float[batch * d];

        List<int>[] Route(int call)
        {
            var tokens = new List<int>[e];
            for (int t = 0; t < batch; t++)
            {
                int ex = (call * batch + t) % e;
                (tokens[ex] ??= []).Add(t);
            }

            return tokens;
        }

        int distinct = Math.Min(batch, e);
        long bytes = distinct * weights[0].Bytes;
        int calls = options.Iterations + 2;
        var routes = Enumerable.Range(0, calls).Select(Route).ToArray();
        var assignments = routes.Select(r => Enumerable.Range(0, e).Where(i => r[i] is not null)
            .Select(i => new Bf16ExpertAssignment(weights[i], r[i].ToArray())).ToArray()).ToArray();
        var indexTensors = routes.Select(r => r.Select(l => l is null ? null : torch.tensor(l.ToArray(), dtype: torch.int64)).ToArray()).ToArray();

        double kernel = Time(calls, i => Bf16SwiGlu.ForwardMany(xHost, batch, assignments[i], y, accumulate: false, pool), out var torchTime, i =>
        {
            using var inner = torch.NewDisposeScope();
            var yt = torch.zeros(batch, d, dtype: torch.bfloat16);
            for (int ex = 0; ex < e; ex++)
            {
                var idx = indexTensors[i][ex];
                if (idx is null)
                {
                    continue;
                }

                var xe = xBf16.index_select(0, idx);
                var gu = torch.nn.functional.linear(xe, gateUp[ex]);
                var parts = gu.chunk(2, -1);
                var h = torch.nn.functional.silu(parts[0]) * parts[1];
                yt.IndexAddInPlace(0, idx, torch.nn.functional.linear(h, down[ex]));
            }
        });
        return new DecodeBenchmarkCase("moe-top1", batch, bytes, bytes / kernel / 1e9, bytes / torchTime / 1e9, bandwidth);
    }

    /// <summary>A plain <c>[2F, D]</c> linear per call (the experts' gate/up matrices in turn),
    /// kernel through <see cref="Bf16Linear"/> with fp32 x, torch with bf16 x.</summary>
    private static DecodeBenchmarkCase LinearCase(
        DecodeBenchmarkOptions options, CpuWorkerPool pool, int batch, torch.Tensor[] gateUp, double bandwidth)
    {
        using var scope = torch.NewDisposeScope();
        var x = torch.randn(batch, options.Hidden, dtype: torch.float32);
        var xBf16 = x.to(torch.bfloat16);
        long bytes = gateUp[0].NumberOfElements * sizeof(ushort);
        int e = gateUp.Length;
        double kernel = Time(options.Iterations + 2, i =>
        {
            using var inner = torch.NewDisposeScope();
            Bf16Linear.Linear(x, gateUp[i % e], pool);
        }, out var torchTime, i =>
        {
            using var inner = torch.NewDisposeScope();
            torch.nn.functional.linear(xBf16, gateUp[i % e]);
        });
        return new DecodeBenchmarkCase("linear", batch, bytes, bytes / kernel / 1e9, bytes / torchTime / 1e9, bandwidth);
    }

    /// <summary>
    /// Times all kernel calls, then all torch calls (2 warm-up calls each); median seconds per
    /// call. Not interleaved: libtorch's OpenMP threads keep spinning for a while after each op and
    /// would take the kernel pool's cores, so each block starts after a pause that lets them sleep.
    /// </summary>
    private static double Time(int calls, Action<int> kernel, out double torchSeconds, Action<int> torchCall)
    {
        double k = MedianSeconds(calls, kernel);
        torchSeconds = MedianSeconds(calls, torchCall);
        return k;
    }

    private static double MedianSeconds(int calls, Action<int> call)
    {
        Thread.Sleep(QuietMilliseconds);
        var seconds = new List<double>();
        for (int i = 0; i < calls; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            call(i);
            double dt = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (i >= 2)
            {
                seconds.Add(dt);
            }
        }

        seconds.Sort();
        return seconds[seconds.Count / 2];
    }
}

using System.Runtime.InteropServices;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Cpu;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>
/// <c>llama4 bench kernels</c>: measures, in one run on this machine, the kernels that decide decode
/// and prefill speed, each as a ratio to a baseline measured in the same run (machines here are
/// noisy: compare ratios, never absolute times across runs):
/// decode through one MoE layer (expert weight bytes read per second ÷ memory-read bandwidth),
/// prefill through grouped experts (FLOP/s ÷ one dense GEMM of the same FLOPs), and decode
/// attention (KV bytes read per second ÷ memory-read bandwidth). All in bf16 on the CPU.
/// </summary>
public static class KernelBenchmark
{
    public static KernelBenchmarkReport Run(KernelBenchmarkOptions options, Action<string>? log = null)
    {
        int threads = options.Threads ?? Environment.ProcessorCount;
        torch.set_num_threads(threads);
        var rows = new List<KernelBenchmarkRow>();

        log?.Invoke("measuring memory-read bandwidth");
        double bandwidth = MemoryBandwidth.Measure();
        double torchSum = MemoryBandwidth.MeasureTorchSum();

        using var layer = options.ModelDirectory is { } dir ? MoeLayer.FromCheckpoint(dir) : MoeLayer.Random(options);
        string shape = $"MoE D={layer.Hidden} F={layer.Intermediate} E={layer.Experts} top-{layer.TopK} + shared, bf16" +
                       (options.ModelDirectory is null ? "" : $" (layer {layer.LayerIndex} of {options.ModelDirectory})");

        foreach (int batch in options.DecodeBatches)
        {
            log?.Invoke($"decode: one MoE layer, batch {batch}");
            rows.Add(layer.Decode(batch, options.SecondsPerCase, bandwidth));
        }

        log?.Invoke($"prefill: grouped experts over {options.PrefillTokens} tokens");
        rows.Add(layer.Prefill(options.PrefillTokens, options.SecondsPerCase));

        foreach (int context in options.AttentionContexts)
        {
            log?.Invoke($"decode attention at {context} tokens of context");
            rows.Add(DecodeAttention(options, context, bandwidth));
        }

        string machine = $"{RuntimeInformation.OSDescription.Trim()}, {Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}, AVX-512 {(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "yes" : "no")}";
        return new KernelBenchmarkReport(machine, threads, bandwidth, torchSum, shape, rows);
    }

    /// <summary>Bytes a rotation of benchmark operands spans: several times any CPU's last-level cache.</summary>
    private const double ColdWorkingSetBytes = 256.0 * 1024 * 1024;

    private static KernelBenchmarkRow DecodeAttention(KernelBenchmarkOptions o, int context, double bandwidth)
    {
        using var scope = NewDisposeScope();
        var g = new Generator(7);
        var q = torch.randn([1, o.Heads, o.HeadDim], dtype: ScalarType.BFloat16, generator: g);
        double bytes = 2.0 * context * o.KvHeads * o.HeadDim * 2;
        // Rotate over enough caches that they cannot stay in the CPU's last-level cache between
        // calls, as in a real decode step (every other layer's weights and caches stream in between).
        int copies = (int)Math.Max(2, Math.Ceiling(ColdWorkingSetBytes / bytes));
        // Laid out as LayerKvCache holds them: head-major storage seen as [m, KV, hd].
        Tensor Cache() => torch.randn([o.KvHeads, context, o.HeadDim], dtype: ScalarType.BFloat16, generator: g).permute(1, 0, 2);
        var k = Enumerable.Range(0, copies).Select(_ => Cache()).ToArray();
        var v = Enumerable.Range(0, copies).Select(_ => Cache()).ToArray();
        double scale = 1 / Math.Sqrt(o.HeadDim);
        int call = 0;
        double seconds = Timing.SecondsPerCall(() =>
        {
            using var inner = NewDisposeScope();
            int c = call++ % copies;
            AttentionCore.Attend(q, k[c], v[c], context - 1, 0, null, scale, KernelPolicy.CpuBf16);
        }, o.SecondsPerCase);
        return new KernelBenchmarkRow($"decode attention, {context} ctx (H={o.Heads}, KV={o.KvHeads}, hd={o.HeadDim})", "GB/s KV",
            bytes / seconds / 1e9, "memory read", bandwidth, 0.5);
    }

    /// <summary>One MoE layer's weights (router, shared expert, routed experts) in bf16.</summary>
    private sealed class MoeLayer : IDisposable
    {
        private readonly MoeBlock _block;
        private readonly LocalExpertDispatcher _dispatcher;
        private readonly Tensor _denseBaseline; // [3F, D]: the dense GEMM of the same FLOPs as the grouped experts

        private MoeLayer(int layerIndex, int hidden, int intermediate, int experts, int topK, MoeBlock block, LocalExpertDispatcher dispatcher)
        {
            LayerIndex = layerIndex;
            Hidden = hidden;
            Intermediate = intermediate;
            Experts = experts;
            TopK = topK;
            _block = block;
            _dispatcher = dispatcher;
            _denseBaseline = torch.randn([3L * intermediate, hidden], dtype: ScalarType.BFloat16).MulInPlace(1 / Math.Sqrt(hidden)).DetachFromDisposeScope();
        }

        public int LayerIndex { get; }
        public int Hidden { get; }
        public int Intermediate { get; }
        public int Experts { get; }
        public int TopK { get; }

        private long ExpertBytes => 3L * Hidden * Intermediate * 2;

        public static MoeLayer Random(KernelBenchmarkOptions o)
        {
            using var scope = NewDisposeScope();
            var g = new Generator(1234);
            Tensor W(double std, params long[] shape) =>
                torch.randn(shape, dtype: ScalarType.Float32, generator: g).MulInPlace(std).to_type(ScalarType.BFloat16).DetachFromDisposeScope();
            long d = o.Hidden, f = o.Intermediate;
            var router = new Router(W(1 / Math.Sqrt(d), o.Experts, d), o.TopK);
            var shared = new SwiGluMlp(W(1 / Math.Sqrt(d), 2 * f, d), W(1 / Math.Sqrt(f), d, f));
            var dispatcher = new LocalExpertDispatcher();
            dispatcher.Add(0, new GroupedExperts(Enumerable.Range(0, o.Experts).ToArray(),
                W(1 / Math.Sqrt(d), o.Experts, 2 * f, d), W(1 / Math.Sqrt(f), o.Experts, d, f)));
            return new MoeLayer(0, o.Hidden, o.Intermediate, o.Experts, o.TopK, new MoeBlock(router, shared), dispatcher);
        }

        public static MoeLayer FromCheckpoint(string directory)
        {
            using var reader = CheckpointReader.Open(directory);
            var c = reader.Config;
            int layer = Enumerable.Range(0, c.NumHiddenLayers).FirstOrDefault(c.IsMoeLayer, -1);
            if (layer < 0) throw new ArgumentException($"{directory}: the model has no MoE layer to benchmark");
            var source = new Engine.CheckpointWeightSource(reader);
            var bf = ScalarType.BFloat16;
            long d = c.HiddenSize, f = c.IntermediateSize;
            string p = $"model.layers.{layer}.feed_forward.";
            Tensor L(string name, params long[] shape) => source.Load(p + name, shape, bf, torch.CPU).DetachFromDisposeScope();
            var router = new Router(L("router.weight", c.NumLocalExperts, d), c.NumExpertsPerToken);
            using var gate = L("shared_expert.gate_proj.weight", f, d);
            using var up = L("shared_expert.up_proj.weight", f, d);
            var shared = new SwiGluMlp(torch.cat([gate, up], 0).DetachFromDisposeScope(), L("shared_expert.down_proj.weight", d, f));
            var all = Enumerable.Range(0, c.NumLocalExperts).ToArray();
            var (gu, dn) = source.LoadExperts(layer, all, bf, torch.CPU);
            var dispatcher = new LocalExpertDispatcher();
            dispatcher.Add(layer, new GroupedExperts(all, gu, dn));
            return new MoeLayer(layer, c.HiddenSize, c.IntermediateSize, c.NumLocalExperts, c.NumExpertsPerToken, new MoeBlock(router, shared), dispatcher);
        }

        public KernelBenchmarkRow Decode(int batch, double seconds, double bandwidth)
        {
            using var scope = NewDisposeScope();
            // Rotate over copies of the layer (and inputs routed differently) spanning several times the
            // last-level cache, so every call streams its weights from memory as a real decode step does.
            double activeBytes = 2.0 * ExpertBytes;
            int copies = (int)Math.Clamp(Math.Ceiling(ColdWorkingSetBytes / activeBytes), 2, 16);
            using var rotation = new LayerCopies(_block, _dispatcher, LayerIndex, copies);
            var xs = Enumerable.Range(0, copies)
                .Select(i => torch.randn([batch, Hidden], dtype: ScalarType.BFloat16, generator: new Generator((ulong)(1000 * batch + i))))
                .ToArray();
            double bytes = 0;
            int distinctTotal = 0;
            foreach (var x in xs)
            {
                using var plan = _block.Prepare(x);
                distinctTotal += plan.ExpertIds.Length;
                // Weights one forward must stream: the distinct routed experts chosen, the shared expert, the router.
                bytes += (plan.ExpertIds.Length + 1) * (double)ExpertBytes + (double)Experts * Hidden * 2;
            }
            bytes /= copies;
            int call = 0;
            // The executor a bf16 CPU model chooses at load; LayerCopies owns (and disposes) the experts.
            var executors = Enumerable.Range(0, copies).Select(i => new FusedLocalMoeExecutor(rotation[i].Dispatcher)).ToArray();
            double perCall = Timing.SecondsPerCall(() =>
            {
                int c = call++ % copies;
                using var y = executors[c].ForwardAsync(rotation[c].Block, LayerIndex, xs[c], default, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            }, seconds);
            return new KernelBenchmarkRow($"decode MoE layer, batch {batch} ({(double)distinctTotal / copies:F1} experts + shared, {copies} layer copies)", "GB/s weights",
                bytes / perCall / 1e9, "memory read", bandwidth, 0.7);
        }

        public KernelBenchmarkRow Prefill(int tokens, double seconds)
        {
            using var scope = NewDisposeScope();
            var x = torch.randn([tokens, Hidden], dtype: ScalarType.BFloat16, generator: new Generator(99));
            using var plan = _block.Prepare(x);
            var experts = _dispatcher.Layer(LayerIndex);
            double grouped = Timing.SecondsPerCall(() =>
            {
                using var y = experts.Compute(plan.Inputs, plan.ExpertIds, plan.Counts);
            }, seconds);
            double dense = Timing.SecondsPerCall(() =>
            {
                using var y = nn.functional.linear(plan.Inputs, _denseBaseline);
            }, seconds);
            double flops = 2.0 * plan.Rows * Hidden * 3.0 * Intermediate;
            return new KernelBenchmarkRow($"prefill grouped experts, {tokens} tokens ({plan.ExpertIds.Length} experts)", "GFLOP/s",
                flops / grouped / 1e9, "dense GEMM, same FLOPs", flops / dense / 1e9, 0.7);
        }

        /// <summary>Copies of one MoE layer (same weights, separate memory), built once per decode case.</summary>
        private sealed class LayerCopies : IDisposable
        {
            private readonly List<(MoeBlock Block, LocalExpertDispatcher Dispatcher)> _copies = new();

            public LayerCopies(MoeBlock block, LocalExpertDispatcher dispatcher, int layer, int count)
            {
                _copies.Add((block, dispatcher));
                for (int i = 1; i < count; i++)
                {
                    var (router, gateUp, down) = block.CloneWeights();
                    var experts = dispatcher.Layer(layer).CloneWeights();
                    var d = new LocalExpertDispatcher();
                    d.Add(layer, experts);
                    _copies.Add((new MoeBlock(new Router(router, block.Router.TopK), new SwiGluMlp(gateUp, down)), d));
                }
            }

            public (MoeBlock Block, LocalExpertDispatcher Dispatcher) this[int i] => _copies[i];

            public void Dispose()
            {
                foreach (var (b, d) in _copies.Skip(1))
                {
                    b.Dispose();
                    d.Dispose();
                }
            }
        }

        public void Dispose()
        {
            _block.Dispose();
            _dispatcher.Dispose();
            _denseBaseline.Dispose();
        }
    }
}

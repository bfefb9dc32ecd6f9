using System.Diagnostics;
using System.Runtime.InteropServices;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Runtime;

namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>
/// Time to first token of a long shared system prompt, cold against cached, in one run on one engine (the local engine:
/// the same rank core and scheduler as the cluster). Each round draws a system prompt no earlier round used and sends two
/// requests with it, each with a user turn of its own: the first finds nothing in the prefix cache and computes (and
/// caches) every block; the second restores the system prompt's blocks and computes only its own turn. A warm-up request
/// first, so neither side pays for first-call costs. One request at a time, one token each: the time is the prefill's.
/// </summary>
public static class PrefixCacheBenchmark
{
    public static PrefixCacheBenchmarkResult Run(PrefixCacheBenchmarkOptions options, Action<string>? info = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.SystemTokens < 1 || options.UserTokens < 1 || options.Rounds < 1)
            throw new ArgumentException("the system prompt, the user turn and the rounds need at least 1 each");
        string? temporary = null;
        string directory = options.ModelDirectory ?? (temporary = Path.Combine(Path.GetTempPath(), "l4c-prefix-bench-" + Guid.NewGuid().ToString("N")));
        try
        {
            if (temporary is not null)
            {
                info?.Invoke($"writing a random-weight {options.Preset} checkpoint to {temporary}");
                TinyCheckpointWriter.Write(temporary, Llama4Presets.Get(options.Preset), new TinyCheckpointOptions { Seed = 1 });
            }

            using var engine = LocalEngine.Load(directory, new LocalEngineOptions
            {
                ComputeDType = options.ComputeDType, Device = options.Device, Threads = options.Threads,
                MaxStepTokens = options.MaxStepTokens, PrefixCache = options.PrefixCache,
            });
            return Measure(engine, options, options.ModelDirectory ?? options.Preset, info);
        }
        finally
        {
            if (temporary is not null && Directory.Exists(temporary)) Directory.Delete(temporary, recursive: true);
        }
    }

    private static PrefixCacheBenchmarkResult Measure(LocalEngine engine, PrefixCacheBenchmarkOptions options, string model, Action<string>? info)
    {
        var config = engine.Model.Config;
        if (options.SystemTokens + options.UserTokens + 1 > config.MaxPositionEmbeddings)
            throw new ArgumentException($"a prompt of {options.SystemTokens + options.UserTokens} tokens does not fit the model's {config.MaxPositionEmbeddings} positions");
        var random = new Random(7);
        int? patch = engine.Vision?.Inputs.PatchTokenId;
        int[] Tokens(int n) => RandomTokens.Prompt(random, n, 3, config.VocabSize, patch);
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = 1, IgnoreEos = true };
        double Ttft(int[] prompt)
        {
            var watch = Stopwatch.StartNew();
            engine.GenerateAsync([new GenerationRequest(prompt, sampling)]).GetAwaiter().GetResult();
            return watch.Elapsed.TotalMilliseconds;
        }

        Ttft([.. Tokens(options.SystemTokens), .. Tokens(options.UserTokens)]); // warm-up (its prompt is never seen again)
        var cold = new List<double>();
        var cached = new List<double>();
        long restoredBefore = 0;
        int cachedTokens = 0;
        for (int round = 0; round < options.Rounds; round++)
        {
            int[] system = Tokens(options.SystemTokens);
            cold.Add(Ttft([.. system, .. Tokens(options.UserTokens)]));
            restoredBefore = engine.Core?.PrefixCache?.RestoredTokens ?? 0;
            cached.Add(Ttft([.. system, .. Tokens(options.UserTokens)]));
            cachedTokens = (int)((engine.Core?.PrefixCache?.RestoredTokens ?? 0) - restoredBefore);
            info?.Invoke($"round {round + 1}: cold {cold[^1]:F0} ms, cached {cached[^1]:F0} ms ({cachedTokens} tokens from the cache)");
        }

        string machine = $"{RuntimeInformation.OSDescription.Trim()}, {Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}, " +
            $"{options.Device}, {TorchThreads()} torch threads";
        return new PrefixCacheBenchmarkResult(model, machine, ComputeDType.Name(options.ComputeDType), options.SystemTokens,
            options.SystemTokens + options.UserTokens, engine.Core?.PrefixCache?.BlockSize ?? 0, cachedTokens, cold, cached);
    }

    private static int TorchThreads() => TorchSharp.torch.get_num_threads();
}

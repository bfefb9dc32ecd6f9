using System.Diagnostics;
using System.Runtime.InteropServices;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Runtime;

namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>
/// Batched throughput, the measurement of llama.cpp's <c>llama-batched-bench</c>: for each batch size B, B sequences, each
/// with a random prompt of its own, are prefilled (prefill tok/s = B × prompt tokens ÷ prefill wall time), then decoded
/// together greedily for the given number of steps, end-of-sequence ignored (decode tok/s = B × gen tokens ÷ decode wall
/// time). It runs on the serving path: the local engine's <see cref="BatchGeneration"/> over the continuous-batching
/// scheduler and the attention-rank core, prompts prefilled in steps of <see cref="BatchBenchmarkOptions.MaxStepTokens"/>.
/// The scheduler runs with <see cref="SchedulerOptions.PrefillFirst"/>, so no decode overlaps the prefill and every decode
/// step carries all B sequences, and the prefix cache is off, so every token is computed. Each sequence samples its first
/// token from its prompt's last logits (in the prefill) and one more per decode step: gen tokens + 1 in all.
/// </summary>
public static class BatchBenchmark
{
    /// <summary>Throws <see cref="ArgumentException"/> naming the setting when the options cannot run on a model of
    /// <paramref name="config"/> (checked before any weight is loaded).</summary>
    public static void Check(BatchBenchmarkOptions options, Llama4TextConfig config)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(config);
        if (options.Batches.Count == 0 || options.Batches.Any(b => b < 1))
            throw new ArgumentException($"--batch: batch sizes must be positive integers; got {string.Join(",", options.Batches)}");
        if (options.PromptTokens < 1) throw new ArgumentException($"--prompt-tokens must be positive; got {options.PromptTokens}");
        if (options.GenTokens < 1) throw new ArgumentException($"--gen-tokens must be positive; got {options.GenTokens}");
        if (options.MaxStepTokens < 1) throw new ArgumentException($"the step budget must be positive; got {options.MaxStepTokens}");
        // The KV cache holds prompt + gen tokens; the token sampled by the last decode step needs one more position of the context.
        long needed = (long)options.PromptTokens + options.GenTokens + 1;
        if (needed > config.MaxPositionEmbeddings)
        {
            throw new ArgumentException($"--prompt-tokens {options.PromptTokens} + --gen-tokens {options.GenTokens} (+ 1 sampled at the end) do not fit " +
                $"the model's context of {config.MaxPositionEmbeddings} tokens; lower them to at most {config.MaxPositionEmbeddings - 1} together");
        }
    }

    /// <summary>Loads the model once and measures every batch size in order; <paramref name="info"/> gets progress lines.</summary>
    public static BatchBenchmarkResult Run(BatchBenchmarkOptions options, Action<string>? info = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var config = Llama4ConfigReader.Load(options.ModelDirectory);
        Check(options, config);
        info?.Invoke($"bench batch: loading {options.ModelDirectory} ({ComputeDType.Name(options.ComputeDType)}, {options.Device})");
        using var engine = LocalEngine.Load(options.ModelDirectory, new LocalEngineOptions
        {
            ComputeDType = options.ComputeDType,
            Device = options.Device,
            Threads = options.Threads,
            MaxStepTokens = options.MaxStepTokens,
            PrefixCache = PrefixCacheOptions.Disabled,
            BatchInvariant = options.BatchInvariant,
        });
        info?.Invoke($"bench batch: loaded in {engine.LoadSeconds:F2} s");
        if (options.WarmUp)
        {
            info?.Invoke("bench batch: warm-up (the engine's own, then a batch of 2 short sequences)");
            engine.WarmUp(); // one sequence long enough for every prefill path (the batch of 2 below stays under the row limits)
            Measure(engine, options, batch: 2, promptTokens: Math.Min(16, options.PromptTokens), genTokens: Math.Min(4, options.GenTokens), seed: ~options.Seed);
        }

        var rows = new List<BatchBenchmarkRow>();
        foreach (int batch in options.Batches)
        {
            var row = Measure(engine, options, batch, options.PromptTokens, options.GenTokens, options.Seed);
            rows.Add(row);
            info?.Invoke($"bench batch: batch {batch}: prefill {row.PrefillTokens} tokens in {row.PrefillSeconds:F3} s ({row.PrefillTokensPerSecond:F1} tok/s), " +
                $"decode {row.DecodeTokens} tokens in {row.DecodeSeconds:F3} s ({row.DecodeTokensPerSecond:F1} tok/s)");
        }

        return new BatchBenchmarkResult(options.ModelDirectory, Machine(options), ComputeDType.Name(options.ComputeDType), TorchSharp.torch.get_num_threads(),
            engine.LoadSeconds, options.PromptTokens, options.GenTokens, rows);
    }

    /// <summary>One batch: B random prompts through the engine's step loop, timed from the scheduler's step reports.</summary>
    private static BatchBenchmarkRow Measure(LocalEngine engine, BatchBenchmarkOptions options, int batch, int promptTokens, int genTokens, int seed)
    {
        int vocab = engine.Model.Config.VocabSize;
        // One generator per batch size, so batch 8's prompts do not depend on which sizes ran before it. (A fixed mix of the
        // two, not HashCode.Combine: that one is seeded per process, and the same --seed must give the same prompts.)
        var random = new Random(unchecked(seed * 1_000_003 + batch));
        int? patch = engine.Vision?.Inputs.PatchTokenId;
        var sampling = new SamplingParams { Temperature = 0, MaxTokens = genTokens + 1, IgnoreEos = true };
        var requests = new GenerationRequest[batch];
        for (int i = 0; i < batch; i++)
        {
            var prompt = RandomTokens.Prompt(random, promptTokens, Math.Min(3, vocab - 1), vocab, patch);
            requests[i] = new GenerationRequest(prompt, sampling);
        }

        var steps = new List<(long At, SchedulerStepInfo Info)>();
        var gate = new Lock();
        var settings = new BatchGenerationOptions
        {
            MaxStepTokens = options.MaxStepTokens,
            PrefillFirst = true,
            StepCompleted = s =>
            {
                lock (gate) steps.Add((Stopwatch.GetTimestamp(), s));
            },
        };
        long started = Stopwatch.GetTimestamp();
        var results = engine.GenerateAsync(requests, settings).GetAwaiter().GetResult();
        lock (gate) return Row(batch, genTokens, started, steps, results);
    }

    /// <summary>Prefill: from the call to the last step that fed prompt tokens; decode: from there to the last step.</summary>
    private static BatchBenchmarkRow Row(int batch, int genTokens, long started, List<(long At, SchedulerStepInfo Info)> steps,
        IReadOnlyList<GenerationResult> results)
    {
        int lastPrefill = steps.FindLastIndex(s => s.Info.PrefillTokens > 0);
        if (lastPrefill < 0 || steps.Take(lastPrefill + 1).Any(s => s.Info.DecodeTokens > 0) || steps.Skip(lastPrefill + 1).Any(s => s.Info.PrefillTokens > 0))
            throw new InvalidOperationException($"batch {batch}: the scheduler mixed prefill and decode steps; the measurement needs them apart");
        if (results.Any(r => r.Tokens.Count != genTokens + 1))
            throw new InvalidOperationException($"batch {batch}: a sequence ended before its {genTokens + 1} tokens (end-of-sequence is ignored; none should)");
        long prefillEnd = steps[lastPrefill].At;
        long end = steps[^1].At;
        return new BatchBenchmarkRow(batch,
            steps.Sum(s => s.Info.PrefillTokens), Stopwatch.GetElapsedTime(started, prefillEnd).TotalSeconds,
            steps.Sum(s => s.Info.DecodeTokens), Stopwatch.GetElapsedTime(prefillEnd, end).TotalSeconds,
            steps.Count);
    }

    /// <summary>The CPU model (Linux), cores, device and OS, for the report.</summary>
    private static string Machine(BatchBenchmarkOptions options)
    {
        string? cpu = null;
        try
        {
            if (File.Exists("/proc/cpuinfo"))
            {
                cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim();
            }
        }
        catch (IOException)
        {
            // The model name is a courtesy; the rest describes the machine.
        }

        return $"{(cpu is null ? "" : cpu + ", ")}{Environment.ProcessorCount} cores, {RuntimeInformation.ProcessArchitecture}, {options.Device}, {RuntimeInformation.OSDescription.Trim()}";
    }
}

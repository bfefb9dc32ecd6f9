using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench guided [--model DIR] [--quick] [--json] [--threads N] [--dtype auto|float32|bfloat16]</c>: the cost of guided
/// decoding's token mask per generated token over a 202,048-id vocabulary (synthetic, see <see cref="BenchmarkVocabulary"/>),
/// for JSON-schema, json_object, tool-call, regex and choice constraints, cold (a fresh grammar: automaton and caches built
/// as it goes) and warm (later sequences of the same constraint); the guided sampler against the plain one on the same
/// logits; and, with <c>--model</c> (e.g. bench-0.7b from <c>create-tiny</c>), the model's decode step measured in the same
/// run, so the mask is reported as a share of a decode step.
/// </summary>
internal static class GuidedBenchmark
{
    public const string Usage = "bench guided [--model DIR] [--quick] [--json] [--threads N] [--dtype auto|float32|bfloat16]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Structured output: decode tokens/s with a JSON schema, a regex and a choice against unconstrained decoding in the same run.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        CommonOptions.Model,
        CommonOptions.Quick,
        CommonOptions.Json,
        CommonOptions.Threads,
        CommonOptions.DType,
    ];

    private sealed record Case(string Name, GuidanceSpec Spec);

    private sealed record Row(string Case, double CompileMs, int Sequences, int Tokens, double ColdMeanUs, double WarmMeanUs, double WarmP50Us,
        double WarmP99Us, double WarmMaxUs, double GuidedSampleUs, double PlainSampleUs, int States, double CacheHitRate);

    private static readonly Case[] Cases =
    [
        new("json schema (object, bounded)", GuidanceSpec.JsonSchema("""
            {"type":"object","properties":{"name":{"type":"string","maxLength":24},"age":{"type":"integer","minimum":0,"maximum":130},
             "email":{"type":["string","null"],"maxLength":40},"tags":{"type":"array","items":{"type":"string","maxLength":12},"maxItems":4},
             "address":{"type":"object","properties":{"city":{"type":"string","maxLength":20},"zip":{"type":"string","pattern":"^[0-9]{5}$"}},
             "required":["city","zip"],"additionalProperties":false},"score":{"type":"number","minimum":0,"maximum":1}},
             "required":["name","age","tags","address","score"],"additionalProperties":false}
            """)),
        new("json schema (unbounded strings)", GuidanceSpec.JsonSchema("""
            {"type":"object","properties":{"title":{"type":"string"},"summary":{"type":"string"},"keywords":{"type":"array","items":{"type":"string"}}},
             "required":["title","summary","keywords"],"additionalProperties":false}
            """)),
        new("json_object", GuidanceSpec.JsonObject()),
        new("tool call (anyOf, 2 tools)", GuidanceSpec.JsonSchema("""
            {"anyOf":[{"type":"object","properties":{"name":{"const":"get_weather"},"parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":30},"unit":{"enum":["celsius","fahrenheit"]}},"required":["city","unit"],"additionalProperties":false}},"required":["name","parameters"],"additionalProperties":false},
             {"type":"object","properties":{"name":{"const":"search"},"parameters":{"type":"object","properties":{"query":{"type":"string","maxLength":60},"limit":{"type":"integer","minimum":1,"maximum":50}},"required":["query"],"additionalProperties":false}},"required":["name","parameters"],"additionalProperties":false}]}
            """)),
        new("regex (date, time, phone)", GuidanceSpec.Regex("[0-9]{4}-[0-9]{2}-[0-9]{2} [0-2][0-9]:[0-5][0-9] \\+1-[0-9]{3}-[0-9]{3}-[0-9]{4}")),
        new("choice (8 options)", GuidanceSpec.Choice(["positive", "negative", "neutral", "mixed", "unknown", "sarcastic", "angry", "happy"])),
    ];

    public static int Run(Arguments a)
    {
        string? model = a.Optional("model");
        if (model is not null && !File.Exists(Path.Combine(model, "config.json")))
            throw new UsageException($"--model: '{model}' is not a checkpoint directory (no config.json)");
        bool quick = a.Flag("quick");
        bool json = a.Flag("json");
        int? threads = a.Int("threads", 1, 1024);
        TorchSharp.torch.ScalarType dtype;
        try
        {
            // auto: the checkpoint's dtype (bf16 when no checkpoint is given: the decode step is then not measured).
            dtype = ComputeDType.ParseSetting(a.Optional("dtype") ?? ComputeDType.Auto)
                ?? (model is null ? TorchSharp.torch.ScalarType.BFloat16 : ComputeDType.ForCheckpoint(model));
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        a.EnsureAllUsed();
        int sequences = quick ? 4 : 12, maxTokens = quick ? 48 : 96;

        string dir = Path.Combine(Path.GetTempPath(), "l4c-guided-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var watch = Stopwatch.StartNew();
        TokenTrie trie;
        try
        {
            var tokenizer = BenchmarkVocabulary.WriteTokenizer(dir);
            trie = TokenTrie.FromTokenizer(tokenizer);
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }

        double trieSeconds = watch.Elapsed.TotalSeconds;
        Terminal.Info($"bench guided: vocabulary of {trie.VocabularySize:N0} ids, trie of {trie.NodeCount:N0} nodes ({trieSeconds:F2} s)");
        var rows = Cases.Select(c => Measure(c, trie, sequences, maxTokens)).ToList();
        double? stepMs = model is null ? null : DecodeStepMs(model, dtype, threads, quick);
        Report(json, trie, trieSeconds, rows, stepMs, model, dtype);
        return 0;
    }

    /// <summary>Generates <paramref name="sequences"/> outputs, each token the argmax of random logits under the mask (so
    /// any allowed token may come), timing the mask (sync + allowed tokens) and the sampler with and without guidance.</summary>
    private static Row Measure(Case c, TokenTrie trie, int sequences, int maxTokens)
    {
        var watch = Stopwatch.StartNew();
        var engine = new GuidanceEngine(trie);
        var grammar = engine.Grammar(c.Spec);
        double compileMs = watch.Elapsed.TotalMilliseconds;
        var random = new Random(17);
        var logits = new float[trie.VocabularySize];
        int[] stops = [trie.VocabularySize - 1];
        var cold = new List<double>();
        var warm = new List<double>();
        double guided = 0, plain = 0;
        int tokens = 0;
        var unguided = new Sampler(new SamplingParams(), stops);
        for (int s = 0; s < sequences; s++)
        {
            var matcher = engine.CreateMatcher(c.Spec);
            var sampler = new Sampler(new SamplingParams(), stops, matcher);
            var generated = new List<int>();
            while (generated.Count < maxTokens)
            {
                for (int i = 0; i < logits.Length; i++) logits[i] = (float)random.NextDouble();
                long t0 = Stopwatch.GetTimestamp();
                matcher.Sync(generated);
                _ = matcher.AllowedTokens();
                long t1 = Stopwatch.GetTimestamp();
                int token = sampler.Sample(logits, [], generated).TokenId;
                long t2 = Stopwatch.GetTimestamp();
                unguided.Sample(logits, [], generated);
                long t3 = Stopwatch.GetTimestamp();
                (s == 0 ? cold : warm).Add(Stopwatch.GetElapsedTime(t0, t1).TotalMicroseconds);
                guided += Stopwatch.GetElapsedTime(t1, t2).TotalMicroseconds;
                plain += Stopwatch.GetElapsedTime(t2, t3).TotalMicroseconds;
                tokens++;
                if (sampler.IsStop(token)) break;
                generated.Add(token);
            }
        }

        warm.Sort();
        double P(double q) => warm.Count == 0 ? 0 : warm[Math.Min(warm.Count - 1, (int)(q * warm.Count))];
        double hits = grammar.CacheHits + grammar.Walks == 0 ? 0 : (double)grammar.CacheHits / (grammar.CacheHits + grammar.Walks);
        return new Row(c.Name, compileMs, sequences, tokens, cold.Average(), warm.Count == 0 ? 0 : warm.Average(), P(0.5), P(0.99),
            warm.Count == 0 ? 0 : warm[^1], guided / tokens, plain / tokens, grammar.StateCount, hits);
    }

    /// <summary>The model's greedy decode step, one sequence, in this process (after a warm-up run).</summary>
    private static double DecodeStepMs(string model, TorchSharp.torch.ScalarType dtype, int? threads, bool quick)
    {
        Terminal.Info($"bench guided: decode step of {model} ({ComputeDType.Name(dtype)})");
        using var engine = LocalEngine.Load(model, new LocalEngineOptions { ComputeDType = dtype, Threads = threads });
        int steps = quick ? 16 : 48;
        var request = new GenerationRequest(Enumerable.Range(3, 8).ToArray(), new SamplingParams { MaxTokens = steps + 1, IgnoreEos = true });
        engine.GenerateAsync([request with { Sampling = request.Sampling with { MaxTokens = 4 } }]).GetAwaiter().GetResult();
        engine.GenerateAsync([request]).GetAwaiter().GetResult();
        var t = engine.LastTimings!;
        return t.DecodeSeconds / Math.Max(1, t.Steps - 1) * 1e3;
    }

    private static void Report(bool json, TokenTrie trie, double trieSeconds, List<Row> rows, double? stepMs, string? model, TorchSharp.torch.ScalarType dtype)
    {
        string machine = $"{Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}";
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                machine,
                vocabulary = new { ids = trie.VocabularySize, trie_nodes = trie.NodeCount, build_s = trieSeconds, kind = "synthetic (BenchmarkVocabulary)" },
                decode_step = stepMs is null ? null : new { model, dtype = ComputeDType.Name(dtype), ms = stepMs },
                rows = rows.Select(r => new
                {
                    @case = r.Case, compile_ms = r.CompileMs, sequences = r.Sequences, tokens = r.Tokens, mask_cold_mean_us = r.ColdMeanUs,
                    mask_warm_mean_us = r.WarmMeanUs, mask_warm_p50_us = r.WarmP50Us, mask_warm_p99_us = r.WarmP99Us, mask_warm_max_us = r.WarmMaxUs,
                    guided_sample_us = r.GuidedSampleUs, plain_sample_us = r.PlainSampleUs, automaton_states = r.States, mask_cache_hit_rate = r.CacheHitRate,
                    mask_share_of_decode_step = stepMs is { } ms ? r.WarmMeanUs / 1e3 / ms : (double?)null,
                }),
            }));
            return;
        }

        string F(double v) => v.ToString(v >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture);
        Console.WriteLine($"machine: {machine}");
        Console.WriteLine($"vocabulary: synthetic, {trie.VocabularySize:N0} ids ({trie.VocabularySize - 2048:N0} text + 2,048 special), trie {trie.NodeCount:N0} nodes, built in {trieSeconds:F2} s");
        Console.WriteLine(stepMs is { } step ? $"decode step: {step:F2} ms ({model}, {ComputeDType.Name(dtype)}, batch 1, same run)" : "decode step: not measured (pass --model DIR)");
        Terminal.Table("llama4 bench guided (µs per generated token; share = warm mean ÷ decode step, same run)",
            ["case", "compile ms", "tokens", "mask cold µs", "mask warm µs", "p50", "p99", "max", "guided sample µs", "plain sample µs", "states", "cache hits", "share of step"],
            rows.Select(r => (IReadOnlyList<string>)[
                r.Case, F(r.CompileMs), r.Tokens.ToString(CultureInfo.InvariantCulture), F(r.ColdMeanUs), F(r.WarmMeanUs), F(r.WarmP50Us), F(r.WarmP99Us),
                F(r.WarmMaxUs), F(r.GuidedSampleUs), F(r.PlainSampleUs), r.States.ToString(CultureInfo.InvariantCulture), $"{r.CacheHitRate:P0}",
                stepMs is { } ms ? $"{r.WarmMeanUs / 1e3 / ms:P2}" : "-"]));
    }
}

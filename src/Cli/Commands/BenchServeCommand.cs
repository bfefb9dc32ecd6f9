using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cli.Serving;
using Llama4Cluster.Cli.Serving.Cluster;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench serve --url URL</c>: load on an OpenAI-compatible server like vLLM's <c>bench serve</c>. For each
/// concurrency level C, N requests (default 2×C, at least C) kept C in flight, each a streaming
/// <c>POST /v1/completions</c> of P random token ids, greedy, <c>ignore_eos</c>, M tokens; per level output tokens/s,
/// TTFT, ITL, TPOT and E2E percentiles. Then the batching gain (output tokens/s at the highest concurrency ÷ at 1) and
/// the gateway's TTFT overhead: TTFT through the gateway ÷ TTFT of the engine called directly (an Orleans client of
/// the gateway's cluster, from its <c>GET /info</c>), measured in pairs in the same run.
/// </summary>
internal static class BenchServeCommand
{
    public const string Usage = "bench serve --url URL [--concurrency 1,8,32] [--requests N] [--prompt-tokens P] [--max-tokens M] " +
        "[--model NAME] [--api-key KEY] [--seed S] [--timeout SECONDS] [--overhead-requests K] [--json]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Load a running gateway the way llama-batched-bench loads llama.cpp: streams at each concurrency, with TTFT, inter-token latency and tokens/s, and the gateway's own overhead.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        CommonOptions.Url,
        new("concurrency", "LIST", "concurrent streams per level, comma-separated (default 1,8,32)"),
        new("requests", "N", "requests per level (default: enough for each level)"),
        new("prompt-tokens", "P", "prompt tokens per request (default 128)"),
        new("max-tokens", "M", "tokens per completion (default 64)"),
        CommonOptions.ServedModel,
        CommonOptions.ApiKey,
        new("seed", "S", "seed of the random prompts (default 0)"),
        new("timeout", "SECONDS", "longest a request may take (default 300)"),
        new("overhead-requests", "K", "requests of the gateway-overhead probe (default 16)"),
        CommonOptions.Json,
    ];

    /// <summary>The batching gain the performance bar asks for, and the gateway's TTFT overhead at p50.</summary>
    private const double TargetBatchingGain = 8;
    private const double TargetOverheadMs = 2;

    /// <summary>Token ids drawn when the vocabulary size cannot be learnt: below every Llama 4 vocabulary (tiny ones included).</summary>
    private const int FallbackVocabulary = 256;

    /// <summary>Tokens generated per request of the overhead pairs: only the first one is timed.</summary>
    private const int OverheadMaxTokens = 4;

    private sealed record Settings(Uri Url, int[] Concurrency, int? Requests, int PromptTokens, int MaxTokens, string? Model, string? ApiKey,
        int Seed, TimeSpan Timeout, int OverheadPairs, bool Json);

    public static int Run(Arguments a)
    {
        string url = a.Required("url");
        if (!CompletionStreamClient.TryParseBaseUrl(url, out var baseUrl))
            throw new UsageException($"--url: expected an http:// or https:// URL without query (e.g. http://127.0.0.1:8000); got '{url}'");
        int[] levels = a.IntList("concurrency") ?? [1, 8, 32];
        var outside = levels.Where(c => c is < 1 or > 4096).ToArray();
        if (outside.Length > 0)
            throw new UsageException($"--concurrency: each level must be between 1 and 4096; got {outside[0]}");
        if (levels.Distinct().Count() != levels.Length)
            throw new UsageException($"--concurrency: a level is given twice ({string.Join(',', levels)})");
        var settings = new Settings(
            baseUrl,
            levels,
            a.Int("requests", 1, 1_000_000),
            a.Int("prompt-tokens", 1, 1 << 20) ?? 128,
            a.Int("max-tokens", 1, 1 << 20) ?? 64,
            a.Optional("model"),
            a.Optional("api-key"),
            a.Int("seed") ?? 0,
            TimeSpan.FromSeconds(a.Double("timeout", 0.1, 86_400) ?? 300),
            a.Int("overhead-requests", 0, 100_000) ?? 16,
            a.Flag("json"));
        if (settings.Model is "") throw new UsageException("--model: the name is empty");
        a.EnsureAllUsed();
        try
        {
            return RunAsync(settings).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is GatewayUnreachableException or GatewayResponseException)
        {
            Console.Error.WriteLine($"llama4: error: {e.Message.ReplaceLineEndings(" ")}");
            return 1;
        }
    }

    private static async Task<int> RunAsync(Settings s)
    {
        using var client = new CompletionStreamClient(s.Url, s.ApiKey, s.Timeout);

        // What is served: the model id (unless given), its context length; /info for the vocabulary and the cluster.
        IReadOnlyList<ServedModelCard> cards = [];
        try
        {
            cards = ServedModelCard.ParseList(await client.GetJsonAsync("v1/models", default));
        }
        catch (GatewayResponseException e) when (s.Model is not null && e.StatusCode is not (401 or 403))
        {
            // An explicit --model does not need the listing.
        }
        catch (GatewayResponseException e) when (e.StatusCode is 401 or 403)
        {
            throw new GatewayResponseException($"{e.Message} (pass --api-key)", e.StatusCode);
        }
        string model = s.Model ?? cards.FirstOrDefault()?.Id ?? throw new GatewayResponseException($"GET {s.Url}v1/models lists no model; pass --model");
        var card = cards.FirstOrDefault(c => c.Id == model);
        GatewayInfo? info = null;
        string? infoProblem = null;
        try
        {
            info = GatewayInfo.Parse(await client.GetJsonAsync("info", default));
        }
        catch (GatewayResponseException e)
        {
            infoProblem = e.Message;
        }

        int? maxLength = info?.MaxModelLength ?? card?.MaxModelLength;
        if (maxLength is { } limit && s.PromptTokens + s.MaxTokens > limit)
            throw new UsageException($"--prompt-tokens {s.PromptTokens} + --max-tokens {s.MaxTokens} exceed the model's context of {limit} tokens");
        var (vocabulary, vocabularySource) = Vocabulary(info);
        var prompts = new RandomPromptSource(vocabulary, s.Seed, info?.PatchTokenId());
        Terminal.Info($"bench serve: {s.Url} model {model}; prompts of {s.PromptTokens} random token ids below {vocabulary} ({vocabularySource}), seed {s.Seed}; " +
                      $"max_tokens {s.MaxTokens}, ignore_eos, greedy; timeout {Seconds(s.Timeout.TotalSeconds)} per request");

        // One untimed request first (as vLLM does): connections, JIT, and a check that the workload is accepted at all.
        var warmup = await client.StreamCompletionAsync(model, prompts.Next(s.PromptTokens), s.MaxTokens, default);
        if (!warmup.Ok)
        {
            Console.Error.WriteLine($"llama4: error: the first request to {s.Url}v1/completions failed: {warmup.Error}");
            return 1;
        }

        var results = new List<ServeLevelResult>();
        foreach (int c in s.Concurrency)
        {
            int n = Math.Max(s.Requests ?? 2 * c, c);
            var batch = Enumerable.Range(0, n).Select(_ => (IReadOnlyList<int>)prompts.Next(s.PromptTokens)).ToArray();
            Terminal.Info($"bench serve: concurrency {c}: {n} requests");
            var level = await ServeLoadGenerator.RunLevelAsync(client, model, c, batch, s.MaxTokens);
            results.Add(level);
            Terminal.Info(string.Create(CultureInfo.InvariantCulture,
                $"bench serve: concurrency {c}: {level.Succeeded} ok, {level.Failed} failed, {level.OutputTokensPerSecond:F1} output tok/s ({level.DurationSeconds:F2} s)"));
            foreach (var (message, count) in level.Errors.Take(3))
                Terminal.Info($"bench serve: concurrency {c}: {count} × {message}");
        }

        var overhead = await MeasureOverheadAsync(s, client, model, info, infoProblem, prompts);
        if (s.Json) PrintJson(s, model, vocabulary, vocabularySource, results, overhead);
        else PrintTable(s, model, results, overhead);
        if (results.All(r => r.Succeeded == 0))
        {
            Console.Error.WriteLine("llama4: error: every request of the run failed");
            return 1;
        }
        return 0;
    }

    /// <summary>The vocabulary size: /info's when it offers one, else the served model's config.json, else a safe bound.</summary>
    /// <summary>The served checkpoint's image patch token, read from its directory when /info names one; null otherwise.</summary>
    private static (int Size, string Source) Vocabulary(GatewayInfo? info)
    {
        if (info?.VocabularySize is > 0 and int v) return (v, "vocab_size from /info");
        if (!string.IsNullOrEmpty(info?.ModelDirectory))
        {
            try
            {
                return (Llama4ConfigReader.Load(info.ModelDirectory).VocabSize, $"vocab_size of {Path.Combine(info.ModelDirectory, "config.json")}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException)
            {
                // Served from elsewhere: fall through to the bound every Llama 4 vocabulary exceeds.
            }
        }
        return (FallbackVocabulary, "vocabulary size unknown: no /info vocab_size or readable model_dir");
    }

    private static async Task<GatewayOverheadResult> MeasureOverheadAsync(Settings s, CompletionStreamClient client, string model, GatewayInfo? info,
        string? infoProblem, RandomPromptSource prompts)
    {
        if (s.OverheadPairs == 0) return GatewayOverheadResult.Skipped("disabled by --overhead-requests 0");
        if (info is null) return GatewayOverheadResult.Skipped($"the engine cannot be called directly: {infoProblem}");
        DirectEngineProbe probe;
        try
        {
            Terminal.Info("bench serve: joining the gateway's cluster to call the engine directly");
            probe = await DirectEngineProbe.ConnectAsync(info, s.Url, TimeSpan.FromSeconds(20));
        }
        catch (DirectEngineUnavailableException e)
        {
            return GatewayOverheadResult.Skipped($"the engine cannot be called directly: {e.Message}");
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return GatewayOverheadResult.Skipped($"the engine cannot be called directly: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
        }
        await using (probe)
        {
            Terminal.Info($"bench serve: gateway overhead: {s.OverheadPairs} pairs, one request at a time ({probe.Description})");
            try
            {
                return await GatewayOverheadBenchmark.RunAsync(client, model, probe, prompts, s.PromptTokens, s.OverheadPairs,
                    Math.Min(s.MaxTokens, OverheadMaxTokens));
            }
            catch (Exception e) when (e is not (OutOfMemoryException or GatewayUnreachableException))
            {
                return GatewayOverheadResult.Skipped($"the direct engine call failed: {e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}");
            }
        }
    }

    private static double? Ms(double seconds) => double.IsFinite(seconds) ? Math.Round(seconds * 1e3, 3) : null;

    private static double? Finite(double v, int digits) => double.IsFinite(v) ? Math.Round(v, digits) : null;

    private static string Seconds(double s) => s.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    private static (int Low, int High, double Ratio)? BatchingGain(IReadOnlyList<ServeLevelResult> results)
    {
        var one = results.FirstOrDefault(r => r.Concurrency == 1);
        var top = results.MaxBy(r => r.Concurrency);
        if (one is null || top is null || top.Concurrency == 1) return null;
        return (1, top.Concurrency, top.OutputTokensPerSecond / one.OutputTokensPerSecond);
    }

    private static void PrintJson(Settings s, string model, int vocabulary, string vocabularySource, IReadOnlyList<ServeLevelResult> results,
        GatewayOverheadResult overhead)
    {
        var gain = BatchingGain(results);
        object Percentiles(IReadOnlyList<double> samples) => new
        {
            mean = Ms(LatencyStatistics.Mean(samples)),
            p50 = Ms(LatencyStatistics.Percentile(samples, 50)),
            p99 = Ms(LatencyStatistics.Percentile(samples, 99)),
        };
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            url = s.Url.ToString(),
            model,
            prompt_tokens = s.PromptTokens,
            max_tokens = s.MaxTokens,
            vocab_size = vocabulary,
            vocab_source = vocabularySource,
            seed = s.Seed,
            levels = results.Select(r => new
            {
                concurrency = r.Concurrency,
                requests = r.Requests.Count,
                ok = r.Succeeded,
                failed = r.Failed,
                duration_s = Finite(r.DurationSeconds, 4),
                prompt_tokens = r.PromptTokens,
                output_tokens = r.OutputTokens,
                output_tokens_per_s = Finite(r.OutputTokensPerSecond, 3),
                ttft_ms = Percentiles(r.TtftSeconds),
                itl_ms = Percentiles(r.ItlSeconds),
                tpot_ms = Percentiles(r.TpotSeconds),
                e2e_ms = Percentiles(r.E2eSeconds),
                without_usage = r.WithoutUsage,
                errors = r.Errors.Select(e => new { message = e.Message, count = e.Count }),
            }),
            batching_gain = gain is { } g
                ? new { low_concurrency = g.Low, high_concurrency = g.High, ratio = Finite(g.Ratio, 3), target = TargetBatchingGain, met = g.Ratio >= TargetBatchingGain }
                : null,
            gateway_overhead = overhead.Measured
                ? (object)new
                {
                    pairs = overhead.DirectTtftSeconds.Count,
                    max_tokens = overhead.MaxTokens,
                    gateway_failures = overhead.GatewayFailures,
                    ttft_gateway_p50_ms = Ms(overhead.GatewayP50Seconds),
                    ttft_direct_p50_ms = Ms(overhead.DirectP50Seconds),
                    ratio = Finite(overhead.Ratio, 4),
                    difference_ms = Ms(overhead.DifferenceSeconds),
                    target_ms = TargetOverheadMs,
                    met = overhead.DifferenceSeconds * 1e3 <= TargetOverheadMs,
                }
                : new { skipped = overhead.SkippedReason },
        }));
    }

    private static void PrintTable(Settings s, string model, IReadOnlyList<ServeLevelResult> results, GatewayOverheadResult overhead)
    {
        static string F(double v, string format = "F2") => double.IsFinite(v) ? v.ToString(format, CultureInfo.InvariantCulture) : "-";
        static string P(IReadOnlyList<double> samples, double p) => F(LatencyStatistics.Percentile(samples, p) * 1e3);
        string I(long v) => v.ToString(CultureInfo.InvariantCulture);
        Console.WriteLine($"url: {s.Url}; model: {model}; {s.PromptTokens} prompt tokens, {s.MaxTokens} output tokens per request (ignore_eos, greedy)");
        Terminal.Table("llama4 bench serve (times in ms)",
            ["concurrency", "requests", "ok", "failed", "duration s", "output tok/s", "TTFT p50", "TTFT p99", "ITL p50", "ITL p99", "TPOT p50", "E2E p50"],
            results.Select(r => (IReadOnlyList<string>)[
                I(r.Concurrency), I(r.Requests.Count), I(r.Succeeded), I(r.Failed), F(r.DurationSeconds), F(r.OutputTokensPerSecond, "F1"),
                P(r.TtftSeconds, 50), P(r.TtftSeconds, 99), P(r.ItlSeconds, 50), P(r.ItlSeconds, 99), P(r.TpotSeconds, 50), P(r.E2eSeconds, 50)]));
        if (BatchingGain(results) is { } g)
            Console.WriteLine($"batching gain: output tok/s at concurrency {g.High} ÷ at 1 = {F(g.Ratio)} (target >= {F(TargetBatchingGain, "F0")}: {(g.Ratio >= TargetBatchingGain ? "met" : "not met")})");
        else
            Console.WriteLine("batching gain: not measured (needs concurrency 1 and a higher level)");
        if (overhead.Measured)
        {
            double diffMs = overhead.DifferenceSeconds * 1e3;
            Console.WriteLine($"gateway TTFT overhead: p50 {F(overhead.GatewayP50Seconds * 1e3)} ms through the gateway (concurrency 1) vs {F(overhead.DirectP50Seconds * 1e3)} ms " +
                              $"engine direct, {overhead.DirectTtftSeconds.Count} pairs in this run: ratio {F(overhead.Ratio, "F3")}, difference {F(diffMs, "+0.00;-0.00")} ms " +
                              $"(target <= {F(TargetOverheadMs, "F0")} ms: {(diffMs <= TargetOverheadMs ? "met" : "not met")})" +
                              (overhead.GatewayFailures > 0 ? $"; {overhead.GatewayFailures} gateway requests failed: {overhead.FirstGatewayError}" : ""));
        }
        else
        {
            Console.WriteLine($"gateway TTFT overhead: skipped ({overhead.SkippedReason})");
        }
    }
}

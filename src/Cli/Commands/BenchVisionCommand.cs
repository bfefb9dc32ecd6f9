using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Benchmarks;
using TorchSharp;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>bench vision [--tower scout|tiny] [--tiles 1,4] [--dtype bfloat16,float32] [--repetitions N] [--threads N]
/// [--url URL [--model NAME] [--api-key KEY]] [--json]</c>: tiles/s of image preprocessing and of the vision encoder on a
/// tower of Scout's shape with random weights (<see cref="VisionBenchmark"/>), and with <c>--url</c> the time to first token
/// an image adds through a running gateway: streamed chat requests without an image, with a one-tile image and with a
/// 16-tile one (17 tiles with the global tile), in rounds that take one of each in turn, every request with its own text
/// and pixels so that the prefix cache restores nothing; the median of each, and the added milliseconds per tile.
/// </summary>
internal static class BenchVisionCommand
{
    public const string Usage = "bench vision [--tower scout|tiny] [--tiles 1,4] [--dtype bfloat16,float32] [--repetitions N] [--threads N] " +
        "[--url URL [--model NAME] [--api-key KEY]] [--json]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "The vision encoder's time per tile against its FLOPs, image preprocessing, and (with --url) a gateway's TTFT with and without images.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        new("tower", "scout|tiny", "encoder shape: Scout's published vision tower or the tiny test one (default scout)"),
        new("tiles", "LIST", "tiles per encoder call, comma-separated (default 1,4)"),
        new("dtype", "LIST", "dtypes to measure, comma-separated (default bfloat16,float32)"),
        new("repetitions", "N", "timed calls per case (default 3)"),
        CommonOptions.Threads,
        CommonOptions.Url,
        CommonOptions.ServedModel,
        CommonOptions.ApiKey,
        CommonOptions.Json,
    ];

    private sealed record GatewayRow(string Request, int Tiles, int PromptTokens, double TtftMs);

    public static int Run(Arguments a)
    {
        var tower = (a.Optional("tower") ?? "scout") switch
        {
            "scout" => Llama4VisionConfig.Published,
            "tiny" => Llama4VisionConfig.Tiny,
            var t => throw new UsageException($"--tower must be scout or tiny; got '{t}'"),
        };
        int textHidden = tower == Llama4VisionConfig.Tiny ? Llama4Presets.TinyScout.HiddenSize : Llama4Presets.Scout.HiddenSize;
        var tiles = a.IntList("tiles") ?? [1, 4];
        if (tiles.Any(t => t is < 1 or > 64)) throw new UsageException("--tiles: each count must be between 1 and 64");
        var dtypes = (a.Optional("dtype") ?? "bfloat16,float32").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(d => d switch
            {
                "bfloat16" or "bf16" => torch.ScalarType.BFloat16,
                "float32" or "fp32" => torch.ScalarType.Float32,
                _ => throw new UsageException($"--dtype: '{d}' is not bfloat16 or float32"),
            }).ToArray();
        int repetitions = a.Int("repetitions", 1, 100) ?? 3;
        int? threads = a.Int("threads", 1, 1024);
        string? url = a.Optional("url");
        string? model = a.Optional("model");
        string? apiKey = a.Optional("api-key");
        bool json = a.Flag("json");
        a.EnsureAllUsed();
        Uri? gateway = null;
        if (url is not null && (!Uri.TryCreate(url.TrimEnd('/') + "/", UriKind.Absolute, out gateway) || gateway.Scheme is not ("http" or "https")))
            throw new UsageException($"--url: expected an http:// or https:// URL (e.g. http://127.0.0.1:8000); got '{url}'");
        if (gateway is null && (model is not null || apiKey is not null))
            throw new UsageException("--model and --api-key apply to --url");

        var result = VisionBenchmark.Run(new VisionBenchmarkOptions
        {
            Vision = tower, TextHiddenSize = textHidden, Tiles = tiles, DTypes = dtypes, Repetitions = repetitions, Threads = threads,
        }, Terminal.Info);
        var rows = gateway is null ? null : MeasureGateway(gateway, model, apiKey, repetitions);
        double? addedPerTile = rows is null ? null : (rows[^1].TtftMs - rows[0].TtftMs) / rows[^1].Tiles;

        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                machine = result.Machine,
                threads = result.Threads,
                tower = result.Tower,
                gflop_per_tile = Math.Round(result.GflopPerTile, 2),
                preprocess = result.Preprocess.Select(p => new
                {
                    image = p.Image, tiles = p.Tiles, decode_ms = Math.Round(p.DecodeMilliseconds, 3), tile_ms = Math.Round(p.TileMilliseconds, 3),
                    tiles_per_s = Math.Round(p.TilesPerSecond, 1),
                }),
                encoder = result.Encoder.Select(e => new
                {
                    dtype = e.DType, tiles = e.Tiles, seconds_per_call = Math.Round(e.SecondsPerCall, 4), tiles_per_s = Math.Round(e.TilesPerSecond, 4),
                    gflop_per_s = Math.Round(e.GflopPerSecond, 1),
                }),
                gateway = rows?.Select(r => new { request = r.Request, tiles = r.Tiles, prompt_tokens = r.PromptTokens, ttft_ms = Math.Round(r.TtftMs, 2) }),
                ttft_added_ms_per_tile = addedPerTile is { } add ? Math.Round(add, 3) : (double?)null,
            }));
            return 0;
        }

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"vision tower: {result.Tower} ({result.GflopPerTile:F1} GFLOP per tile), {result.Threads} threads"));
        foreach (var p in result.Preprocess)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  preprocess {p.Image}: {p.Tiles} tiles, decode {p.DecodeMilliseconds:F2} ms + tiling {p.TileMilliseconds:F2} ms = {p.TilesPerSecond:F0} tiles/s"));
        foreach (var e in result.Encoder)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  encoder {e.DType}, {e.Tiles} tile(s) per call: {e.SecondsPerCall * 1e3:F0} ms, {e.TilesPerSecond:F3} tiles/s, {e.GflopPerSecond:F1} GFLOP/s"));
        if (rows is not null)
        {
            foreach (var r in rows)
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  gateway {r.Request}: {r.PromptTokens} prompt tokens, TTFT {r.TtftMs:F1} ms"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  TTFT added per image tile through the gateway: {addedPerTile:F2} ms"));
        }

        return 0;
    }

    /// <summary>Median TTFT of streamed chat requests (max 1 token, greedy) without an image, with a one-tile image and with a
    /// 16-tile image, in the served model's tile size.</summary>
    private static GatewayRow[] MeasureGateway(Uri gateway, string? model, string? apiKey, int repetitions)
    {
        using var http = new HttpClient { BaseAddress = gateway, Timeout = TimeSpan.FromMinutes(10) };
        if (apiKey is not null) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", apiKey);
        var card = JsonNode.Parse(http.GetStringAsync("v1/models").GetAwaiter().GetResult())!["data"]![0]!;
        model ??= card["id"]!.GetValue<string>();
        int tile = card["image_input"]?["tile_size"]?.GetValue<int>()
            ?? throw new UsageException($"--url: the model {model} at {gateway} takes no images (its model card has no image_input)");
        var cases = new (string Name, int Width, int Height)[] { ("text only", 0, 0), ("one-tile image", tile * 3 / 4, tile / 2), ("16-tile image", tile * 4 - 5, tile * 4 - 3) };
        // Every request its own text and pixels, so the gateway's prefix cache restores nothing and each one is computed.
        JsonObject Body(int c, int round)
        {
            var (_, width, height) = cases[c];
            var content = new JsonArray(new JsonObject { ["type"] = "text", ["text"] = $"Request {round}-{c}: describe what you see." });
            if (width > 0)
                content.Add(new JsonObject
                {
                    ["type"] = "image_url",
                    ["image_url"] = new JsonObject { ["url"] = "data:image/png;base64," + Convert.ToBase64String(VisionBenchmark.SyntheticPng(width, height, seed: round * 7 + c)) },
                });
            return new JsonObject
            {
                ["model"] = model, ["max_tokens"] = 1, ["temperature"] = 0, ["stream"] = true,
                ["stream_options"] = new JsonObject { ["include_usage"] = true },
                ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = content }),
            };
        }

        var bodies = cases.Select(k => (k.Name, Tiles: k.Width == 0 ? 0 : k.Width > tile ? 17 : 1)).ToList();
        // A warm-up request of each case, then rounds that take one sample of every case in turn, so drift and warm-up
        // fall on all cases alike; the median of each case's samples.
        var samples = bodies.Select(_ => new List<double>()).ToArray();
        var promptTokens = new int[bodies.Count];
        for (int round = 0; round <= Math.Max(repetitions, 3); round++)
        {
            for (int c = 0; c < bodies.Count; c++)
            {
                var (ttft, prompt) = Ttft(http, Body(c, round));
                if (round > 0) samples[c].Add(ttft);
                promptTokens[c] = prompt;
            }
        }

        var rows = new List<GatewayRow>();
        for (int c = 0; c < bodies.Count; c++)
        {
            samples[c].Sort();
            double median = samples[c][samples[c].Count / 2];
            rows.Add(new GatewayRow(bodies[c].Name, bodies[c].Tiles, promptTokens[c], median));
            Terminal.Info(string.Create(CultureInfo.InvariantCulture, $"gateway {bodies[c].Name}: TTFT {median:F1} ms (median of {samples[c].Count})"));
        }

        return [.. rows];
    }

    private static (double TtftMs, int PromptTokens) Ttft(HttpClient http, JsonObject body)
    {
        var watch = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions") { Content = JsonContent.Create(body) };
        using var response = http.Send(request, HttpCompletionOption.ResponseHeadersRead);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"POST /v1/chat/completions answered {(int)response.StatusCode}: {response.Content.ReadAsStringAsync().GetAwaiter().GetResult()}");
        using var reader = new StreamReader(response.Content.ReadAsStream());
        double? first = null;
        int prompt = 0;
        while (reader.ReadLine() is { } line)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line[6..];
            if (data == "[DONE]") break;
            var chunk = JsonNode.Parse(data)!;
            if (first is null && chunk["choices"] is JsonArray { Count: > 0 } choices && choices[0]!["delta"]?["content"] is not null)
                first = watch.Elapsed.TotalMilliseconds;
            if (chunk["usage"]?["prompt_tokens"] is { } p) prompt = p.GetValue<int>();
        }

        return (first ?? watch.Elapsed.TotalMilliseconds, prompt);
    }
}

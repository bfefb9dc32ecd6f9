using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>generate --model DIR (--tokens IDS | --prompt TEXT [--chat]) [--image FILE]… --max-tokens N [--temperature T]
/// [--top-p P] [--top-k K] [--min-p P] [--seed S] [--dtype auto|float32|bfloat16] [--ignore-eos] [--json]</c>.
/// Greedy when the temperature is 0 (the default). The dtype defaults to <c>auto</c>: the checkpoint's (bf16 and FP8
/// checkpoints compute in bfloat16, fp32 ones in float32). <c>--image</c> (repeatable, in prompt order): with --tokens the
/// ids hold the images' token layout; with --prompt, <c>&lt;|image|&gt;</c> in the text marks each image's place
/// (<see cref="ImageArguments"/>). With --json, stdout is exactly one object:
/// <c>{"tokens": [new ids], "text": "...", "finish_reason": "stop|length", "timings": {...}, "dtype": "bfloat16"}</c>.
/// </summary>
internal static class GenerateCommand
{
    public const string Usage = "generate --model DIR (--tokens IDS | --prompt TEXT [--chat]) [--image FILE]... --max-tokens N [--temperature T] [--top-p P] [--top-k K] [--min-p P] [--seed S] [--dtype auto|float32|bfloat16] [--device cpu|cuda:N] [--engine local|cluster [--silos N | --plan FILE] [--silo-addresses loopback|distinct]] [--batch-invariant] [--ignore-eos] [--json]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Generate a completion from token ids or a prompt, locally or on an ephemeral cluster of silo processes.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        new("tokens", "IDS", "prompt token ids, comma-separated"),
        new("prompt", "TEXT", "prompt text (needs the checkpoint's tokenizer)"),
        CommandLineOption.Switch("chat", "wrap --prompt in the model's chat template as one user message"),
        ImageArguments.Option,
        new("max-tokens", "N", "tokens to generate"),
        new("temperature", "T", "sampling temperature, 0 = greedy (default 0)"),
        new("top-p", "P", "nucleus sampling mass, 0..1 (default 1)"),
        new("top-k", "K", "sample among the K likeliest tokens, 0 or -1 = all (default 0)"),
        new("min-p", "P", "drop tokens below P times the likeliest one's probability (default 0)"),
        new("seed", "S", "sampling seed"),
        new("repetition-penalty", "R", "divide the logits of tokens already seen by R (default 1)"),
        new("presence-penalty", "P", "subtract P from tokens already generated (default 0)"),
        new("frequency-penalty", "F", "subtract F per earlier occurrence of a token (default 0)"),
        CommandLineOption.Switch("ignore-eos", "keep generating past end-of-sequence tokens"),
        CommonOptions.DType,
        CommonOptions.Json,
        .. EngineArguments.CommandLineOptions,
    ];

    public static int Run(Arguments a)
    {
        var engineArgs = EngineArguments.Parse(a, defaultDType: ComputeDType.Auto);
        var tokens = a.IntList("tokens");
        string? prompt = a.Optional("prompt");
        bool chat = a.Flag("chat");
        int maxTokens = a.Int("max-tokens", 1, 1 << 24) ?? throw new UsageException("missing required option --max-tokens");
        var sampling = ParseSampling(a, maxTokens);
        bool json = a.Flag("json");
        var images = ImageArguments.Parse(a, engineArgs.ModelDirectory);
        a.EnsureAllUsed();
        if ((tokens is null) == (prompt is null))
            throw new UsageException("give exactly one of --tokens and --prompt");
        if (chat && prompt is null)
            throw new UsageException("--chat applies to --prompt");
        try
        {
            sampling.Validate();
        }
        catch (ArgumentException e)
        {
            throw new UsageException(e.Message);
        }

        if (tokens is not null)
        {
            engineArgs.CheckTokens(tokens, "tokens");
            images.CheckTokens(tokens);
        }

        using var engine = engineArgs.Load();
        double warmUp = engine.WarmUp();
        var tokenizer = engine.Tokenizer;
        IReadOnlyList<int> promptTokens;
        if (prompt is not null)
        {
            if (tokenizer is null)
                throw new UsageException($"--prompt needs tokenizer files (tokenizer.model or tokenizer.json) in {engineArgs.ModelDirectory}; use --tokens");
            promptTokens = images.EncodePrompt(tokenizer, prompt, chat);
        }
        else
        {
            promptTokens = tokens!;
        }

        var decoder = !json && tokenizer is not null ? tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true) : null;
        var results = engine.GenerateAsync([new GenerationRequest(promptTokens, sampling, Images: images.Images.Count == 0 ? null : images.Images)], (_, token) =>
        {
            if (json) return;
            if (decoder is not null) Console.Write(decoder.Add(token.TokenId));
            else Console.Write(token.TokenId.ToString(CultureInfo.InvariantCulture) + " ");
        }).GetAwaiter().GetResult();
        var result = results[0];
        var timings = engine.LastTimings!;
        string text = tokenizer?.Decode(result.Tokens, skipSpecialTokens: true) ?? "";

        if (json)
        {
            WriteJson(result, text, engine.LoadSeconds, warmUp, timings, ComputeDType.Name(engineArgs.Options.ComputeDType));
        }
        else
        {
            if (decoder is not null) Console.Write(decoder.Flush());
            Console.WriteLine();
            Terminal.Info(string.Create(CultureInfo.InvariantCulture,
                $"{result.Tokens.Count} tokens ({(result.FinishReason == FinishReason.Stop ? "stop" : "length")}); {ComputeDType.Name(engineArgs.Options.ComputeDType)}; load {engine.LoadSeconds:F2} s; warm-up {warmUp:F2} s; " +
                $"prefill {timings.PrefillTokens} tokens at {timings.PrefillTokensPerSecond:F1} tok/s; decode {timings.DecodeTokens} tokens at {timings.DecodeTokensPerSecond:F1} tok/s"));
        }
        return 0;
    }

    /// <summary>The sampling flags, defaults as in the OpenAI API (greedy unless --temperature).</summary>
    private static SamplingParams ParseSampling(Arguments a, int maxTokens)
    {
        return new SamplingParams
        {
            MaxTokens = maxTokens,
            Temperature = (float)(a.Double("temperature", 0, 100) ?? 0),
            TopP = (float)(a.Double("top-p", 0, 1) ?? 1),
            TopK = a.Int("top-k", -1) ?? 0,
            MinP = (float)(a.Double("min-p", 0, 1) ?? 0),
            Seed = a.Long("seed"),
            RepetitionPenalty = (float)(a.Double("repetition-penalty") ?? 1),
            PresencePenalty = (float)(a.Double("presence-penalty") ?? 0),
            FrequencyPenalty = (float)(a.Double("frequency-penalty") ?? 0),
            IgnoreEos = a.Flag("ignore-eos"),
        };
    }

    /// <summary>The --json answer: exactly one object on stdout.</summary>
    private static void WriteJson(GenerationResult result, string text, double loadSeconds, double warmUpSeconds, GenerationTimings timings, string dtype)
    {
        using var stdout = Console.OpenStandardOutput();
        using var w = new Utf8JsonWriter(stdout);
        w.WriteStartObject();
        w.WriteStartArray("tokens");
        foreach (int t in result.Tokens) w.WriteNumberValue(t);
        w.WriteEndArray();
        w.WriteString("text", text);
        w.WriteString("finish_reason", result.FinishReason == FinishReason.Stop ? "stop" : "length");
        w.WriteStartObject("timings");
        w.WriteNumber("load_s", Math.Round(loadSeconds, 4));
        w.WriteNumber("warmup_s", Math.Round(warmUpSeconds, 4)); // compiling the step loop before the prompt (on a cluster: in every silo)
        w.WriteNumber("prefill_tokens", timings.PrefillTokens);
        w.WriteNumber("prefill_tokens_per_s", Math.Round(timings.PrefillTokensPerSecond, 2));
        w.WriteNumber("decode_tokens", timings.DecodeTokens);
        w.WriteNumber("decode_tokens_per_s", Math.Round(timings.DecodeTokensPerSecond, 2));
        w.WriteEndObject();
        w.WriteString("dtype", dtype); // the compute dtype --dtype resolved to (auto: the checkpoint's)
        w.WriteEndObject();
        w.Flush();
        stdout.WriteByte((byte)'\n');
    }
}

using System.Text.Json;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>logits --model DIR --tokens 1,17,42 [--image FILE]… [--positions 0,2] [--dtype float32] --json</c>: one JSON
/// object on stdout, <c>{"logits": {"0": [V floats], "2": [...]}}</c>, all positions when
/// --positions is absent. Needs no tokenizer files. With <c>--image</c> (repeatable, in prompt order) the ids hold the
/// images' token layout and the images' features fill their <c>&lt;|patch|&gt;</c> positions (<see cref="ImageArguments"/>). Its default dtype is float32 whatever the checkpoint's, unlike
/// <c>generate</c>'s <c>auto</c>: it is the exactness tool that other engines and the reference implementation are compared
/// with, and bf16 logits differ from them by rounding.
/// </summary>
internal static class LogitsCommand
{
    public const string Usage = "logits --model DIR --tokens 1,17,42 [--image FILE]... [--positions 0,2] [--dtype float32|bfloat16|auto] [--device cpu|cuda:N] [--engine local|cluster [--silos N | --plan FILE] [--silo-addresses loopback|distinct]] [--batch-invariant] --json";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Run a prompt through the model and print its logits at chosen positions as JSON (for comparing engines with each other and with references).";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        new("tokens", "IDS", "prompt token ids, comma-separated"),
        ImageArguments.Option,
        new("positions", "LIST", "positions to print, comma-separated (default: the last)"),
        new("dtype", "float32|bfloat16|auto", "compute dtype (also fp32, bf16); auto follows the checkpoint (default float32: the exactness reference)"),
        CommonOptions.Json,
        .. EngineArguments.CommandLineOptions,
    ];

    public static int Run(Arguments a)
    {
        var engineArgs = EngineArguments.Parse(a, defaultDType: "float32");
        var tokens = a.IntList("tokens") ?? throw new UsageException("missing required option --tokens");
        var positions = a.IntList("positions");
        bool json = a.Flag("json");
        var images = ImageArguments.Parse(a, engineArgs.ModelDirectory);
        a.EnsureAllUsed();
        if (!json) throw new UsageException("logits prints JSON only: add --json");
        if (positions is not null)
            foreach (int p in positions)
                if (p < 0 || p >= tokens.Length)
                    throw new UsageException($"--positions: {p} is outside 0..{tokens.Length - 1}");

        engineArgs.CheckTokens(tokens, "tokens");
        images.CheckTokens(tokens);
        using var engine = engineArgs.Load();
        var rows = engine.Logits(tokens, images.Images);

        using var stdout = Console.OpenStandardOutput();
        using var writer = new Utf8JsonWriter(stdout);
        writer.WriteStartObject();
        writer.WriteStartObject("logits");
        foreach (int p in positions ?? Enumerable.Range(0, tokens.Length).ToArray())
        {
            writer.WriteStartArray(p.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (float v in rows[p]) writer.WriteNumberValue(v);
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
        writer.WriteEndObject();
        writer.Flush();
        stdout.WriteByte((byte)'\n');
        return 0;
    }
}

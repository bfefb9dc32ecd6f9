using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>demo [--prompt TEXT] [--max-tokens N] [--cache DIR]</c>: the first command on a new machine.
/// Creates the tiny-scout checkpoint in a cache directory on first run (no weights can be
/// downloaded here), then generates a chat reply from it with the local engine. The weights are
/// random, so the text is gibberish; the path it takes is the real one.
/// </summary>
internal static class DemoCommand
{
    public const string Usage = "demo [--prompt TEXT] [--max-tokens N] [--cache DIR] [--dtype auto|float32|bfloat16]";

    /// <summary>What <c>--help</c> says the command does, under the usage line.</summary>
    public const string Summary =
        "Create the tiny demo model once (cached) and generate from a prompt with it: a first check of a new machine.";

    /// <summary>Every option the command takes (System.CommandLine parses the line against these).</summary>
    public static readonly IReadOnlyList<CommandLineOption> Options =
    [
        new("prompt", "TEXT", "the user message (default: a greeting)"),
        new("max-tokens", "N", "tokens to generate (default 32)"),
        new("cache", "DIR", "where the demo model is kept (default $LLAMA4_CACHE or ~/.cache/llama4cluster)"),
        CommonOptions.DType,
    ];

    public static string DefaultCacheDirectory =>
        Environment.GetEnvironmentVariable("LLAMA4_CACHE")
        ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "llama4cluster");

    public static int Run(Arguments a)
    {
        string prompt = a.Optional("prompt") ?? "Hello! Who are you?";
        int maxTokens = a.Int("max-tokens", 1, 4096) ?? 32;
        string cache = a.Optional("cache") ?? DefaultCacheDirectory;
        string dtype = a.Optional("dtype") ?? Kernels.Runtime.ComputeDType.Auto; // as generate: the checkpoint's (tiny-scout is bf16)
        a.EnsureAllUsed();

        string model = Path.Combine(cache, "models", "tiny-scout");
        if (!File.Exists(Path.Combine(model, "config.json")))
        {
            Terminal.Info($"first run: creating the tiny-scout checkpoint in {model}");
            string staging = model + ".partial";
            if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true);
            CreateTinyCommand.Run(new Arguments(["--preset", "tiny-scout", "--out", staging, "--seed", "0"], CreateTinyCommand.Options));
            if (Directory.Exists(model)) Directory.Delete(model, recursive: true);
            Directory.Move(staging, model);
        }
        Terminal.Info($"prompt: {prompt}");
        return GenerateCommand.Run(new Arguments(
            ["--model", model, "--prompt", prompt, "--chat", "--max-tokens", maxTokens.ToString(System.Globalization.CultureInfo.InvariantCulture),
             "--temperature", "0.6", "--top-p", "0.9", "--seed", "1", "--dtype", dtype],
            GenerateCommand.Options));
    }
}

using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The gateway's flags, each a <c>Gateway:*</c> configuration key (<see cref="GatewayOptions"/>). Strict: an unknown flag,
/// a flag without its value or a flag given twice is a usage error (exit code 2), so a typo never silently serves with defaults.
/// </summary>
public static class GatewayCommandLine
{
    public const string Usage =
        "Llama4Cluster.Gateway [--model DIR] [--port N] [--host ADDR] [--redis HOST:PORT] [--cluster-id ID] [--ranks R] [--shards S] " +
        "[--api-key KEY] [--served-model-name NAME] [--max-model-len N] [--max-num-seqs N] [--max-step-tokens N] [--dtype float32|bfloat16|auto] [--batch-invariant true|false] " +
        "[--device cpu|cuda:N] [--threads N] [--cache-dir DIR] [--data-plane tcp|orleans] " +
        "[--enable-prefix-caching true|false] [--prefix-block-size N] [--dashboard PORT] [--allow-image-urls true|false]";

    /// <summary>What <c>--help</c> says the gateway is, under the usage line.</summary>
    public const string Summary =
        "The OpenAI-compatible HTTP gateway of a Llama4Cluster. Without --redis it co-hosts a silo and serves --model (a tiny " +
        "generated demo model when none is given); with --redis it joins a cluster of silo processes. Every flag is also a " +
        "configuration key (environment Gateway__*).";

    /// <summary>The flags, each onto its <c>Gateway:*</c> key.</summary>
    public static IReadOnlyList<ConfigurationFlag> Flags { get; } =
    [
        Flag("model", "DIR", nameof(GatewayOptions.ModelDirectory), "checkpoint directory to serve (default: the tiny demo model)"),
        Flag("port", "N", nameof(GatewayOptions.Port), "HTTP port (default 8000; 0: chosen by the OS)"),
        Flag("host", "ADDR", nameof(GatewayOptions.Host), "address to listen on (default localhost; 0.0.0.0 for every interface)"),
        Flag("redis", "HOST:PORT", nameof(GatewayOptions.Redis), "join the cluster of silo processes registered in this Redis"),
        Flag("cluster-id", "ID", nameof(GatewayOptions.ClusterId), "the cluster's name in Redis (default llama4)"),
        Flag("ranks", "R", nameof(GatewayOptions.AttentionRanks), "attention ranks (default 1)"),
        Flag("shards", "S", nameof(GatewayOptions.ShardsPerLayer), "expert shards per MoE layer (default 2)"),
        Flag("api-key", "KEY", nameof(GatewayOptions.ApiKey), "bearer key clients must send (or environment LLAMA4_API_KEY)"),
        Flag("served-model-name", "NAME", nameof(GatewayOptions.ServedModelName), "model name of the API (default: the directory's name)"),
        Flag("max-model-len", "N", nameof(GatewayOptions.MaxModelLength), "longest prompt + completion (default: the model's context)"),
        Flag("max-num-seqs", "N", nameof(GatewayOptions.MaxNumSeqs), "most sequences in the running batch"),
        Flag("max-step-tokens", "N", nameof(GatewayOptions.MaxStepTokens), "most tokens one engine step carries, prefill chunks included"),
        Flag("dtype", "float32|bfloat16|auto", nameof(GatewayOptions.DType), "compute dtype of the co-hosted silo (default float32)"),
        Flag("batch-invariant", "true|false", nameof(GatewayOptions.BatchInvariant), "bf16 kernels whose result for a request does not depend on its batch (default false)"),
        Flag("device", "cpu|cuda:N", nameof(GatewayOptions.Device), "device of the co-hosted silo (default cpu)"),
        Flag("threads", "N", nameof(GatewayOptions.Threads), "torch threads of the co-hosted silo"),
        Flag("cache-dir", "DIR", nameof(GatewayOptions.CacheDirectory), "where the demo model is written (default $LLAMA4_CACHE or ~/.cache/llama4cluster)"),
        Flag("data-plane", "tcp|orleans", nameof(GatewayOptions.DataPlane), "what carries expert activations in the co-hosted silo (default tcp)"),
        Flag("enable-prefix-caching", "true|false", nameof(GatewayOptions.EnablePrefixCaching), "keep and route by shared prompt prefixes (default true)"),
        Flag("prefix-block-size", "N", nameof(GatewayOptions.PrefixBlockSize), "tokens per prefix-cache block (default 16)"),
        Flag("dashboard", "PORT", nameof(GatewayOptions.DashboardPort), "serve the Orleans dashboard on this port"),
        Flag("allow-image-urls", "true|false", nameof(GatewayOptions.AllowImageUrls), "fetch http(s) image URLs (default false: data: URLs only)"),
    ];

    /// <summary>Flag → configuration key.</summary>
    public static IReadOnlyDictionary<string, string> Switches { get; } = ConfigurationFlag.Switches(Flags);

    /// <summary>True when the arguments ask for the usage text.</summary>
    public static bool WantsHelp(IReadOnlyList<string> args) => CommandLineFlags.WantsHelp(args);

    /// <summary>Parses <c>--flag value</c> and <c>--flag=value</c> into configuration key/value pairs.</summary>
    /// <exception cref="GatewayStartupException">A usage error (exit code 2); the message names the argument.</exception>
    public static IReadOnlyDictionary<string, string?> Parse(IReadOnlyList<string> args)
    {
        try
        {
            return CommandLineFlags.Parse(args, Flags);
        }
        catch (CommandLineException e)
        {
            throw GatewayStartupException.Usage(e.Message);
        }
    }

    /// <summary>The <c>--help</c> text: the usage line, what the gateway is, one line per flag.</summary>
    public static string Help() => CommandLineFlags.Help(Usage, Summary, Flags);

    private static ConfigurationFlag Flag(string name, string value, string property, string help) =>
        new(name, value, GatewayOptions.SectionName + ":" + property, help);
}

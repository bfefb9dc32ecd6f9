using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The gateway's flags, each a <c>Gateway:*</c> configuration key (<see cref="GatewayOptions"/>). Strict: an unknown flag,
/// a flag without its value or a flag given twice is a usage error (exit code 2), so a typo never silently serves with defaults.
/// </summary>
public static class GatewayCommandLine
{
    public const string Usage =
        "usage: Llama4Cluster.Gateway [--model DIR] [--port N] [--host ADDR] [--redis HOST:PORT] [--cluster-id ID] [--ranks R] [--shards S] " +
        "[--api-key KEY] [--served-model-name NAME] [--max-model-len N] [--max-num-seqs N] [--max-step-tokens N] [--dtype float32|bfloat16|auto] " +
        "[--device cpu|cuda:N] [--threads N] [--cache-dir DIR] [--data-plane tcp|orleans] " +
        "[--enable-prefix-caching true|false] [--prefix-block-size N] [--dashboard PORT] [--allow-image-urls true|false]";

    /// <summary>Flag → configuration key.</summary>
    public static IReadOnlyDictionary<string, string> Switches { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--model"] = Key(nameof(GatewayOptions.ModelDirectory)),
        ["--port"] = Key(nameof(GatewayOptions.Port)),
        ["--host"] = Key(nameof(GatewayOptions.Host)),
        ["--redis"] = Key(nameof(GatewayOptions.Redis)),
        ["--cluster-id"] = Key(nameof(GatewayOptions.ClusterId)),
        ["--ranks"] = Key(nameof(GatewayOptions.AttentionRanks)),
        ["--shards"] = Key(nameof(GatewayOptions.ShardsPerLayer)),
        ["--api-key"] = Key(nameof(GatewayOptions.ApiKey)),
        ["--served-model-name"] = Key(nameof(GatewayOptions.ServedModelName)),
        ["--max-model-len"] = Key(nameof(GatewayOptions.MaxModelLength)),
        ["--max-num-seqs"] = Key(nameof(GatewayOptions.MaxNumSeqs)),
        ["--max-step-tokens"] = Key(nameof(GatewayOptions.MaxStepTokens)),
        ["--dtype"] = Key(nameof(GatewayOptions.DType)),
        ["--device"] = Key(nameof(GatewayOptions.Device)),
        ["--threads"] = Key(nameof(GatewayOptions.Threads)),
        ["--cache-dir"] = Key(nameof(GatewayOptions.CacheDirectory)),
        ["--data-plane"] = Key(nameof(GatewayOptions.DataPlane)),
        ["--enable-prefix-caching"] = Key(nameof(GatewayOptions.EnablePrefixCaching)),
        ["--prefix-block-size"] = Key(nameof(GatewayOptions.PrefixBlockSize)),
        ["--dashboard"] = Key(nameof(GatewayOptions.DashboardPort)),
        ["--allow-image-urls"] = Key(nameof(GatewayOptions.AllowImageUrls)),
    };

    /// <summary>True when the arguments ask for the usage text.</summary>
    public static bool WantsHelp(IReadOnlyList<string> args) => CommandLineFlags.WantsHelp(args);

    /// <summary>Parses <c>--flag value</c> and <c>--flag=value</c> into configuration key/value pairs.</summary>
    /// <exception cref="GatewayStartupException">A usage error (exit code 2); the message names the argument.</exception>
    public static IReadOnlyDictionary<string, string?> Parse(IReadOnlyList<string> args)
    {
        try
        {
            return CommandLineFlags.Parse(args, Switches);
        }
        catch (CommandLineException e)
        {
            throw GatewayStartupException.Usage(e.Message);
        }
    }

    private static string Key(string property) => GatewayOptions.SectionName + ":" + property;
}

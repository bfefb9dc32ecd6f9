namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The gateway's flags, each a <c>Gateway:*</c> configuration key (<see cref="GatewayOptions"/>). Strict: an unknown flag,
/// a flag without its value or a flag given twice is a usage error (exit code 2), so a typo never silently serves with defaults.
/// </summary>
public static class GatewayCommandLine
{
    public const string Usage =
        "usage: Llama4Cluster.Gateway [--model DIR] [--port N] [--host ADDR] [--redis HOST:PORT] [--cluster-id ID] [--ranks R] [--shards S] " +
        "[--api-key KEY] [--served-model-name NAME] [--max-model-len N] [--max-num-seqs N] [--max-step-tokens N] [--dtype bf16|fp32] " +
        "[--device cpu|cuda:N] [--threads N] [--cache-dir DIR] [--data-plane orleans|tcp]";

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
    };

    /// <summary>True when the arguments ask for the usage text.</summary>
    public static bool WantsHelp(IReadOnlyList<string> args) => args.Any(a => a is "--help" or "-h" or "-?");

    /// <summary>Parses <c>--flag value</c> and <c>--flag=value</c> into configuration key/value pairs.</summary>
    /// <exception cref="GatewayStartupException">A usage error (exit code 2); the message names the argument.</exception>
    public static IReadOnlyDictionary<string, string?> Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            string flag = arg, value;
            int eq = arg.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0)
            {
                flag = arg[..eq];
                value = arg[(eq + 1)..];
            }
            else
            {
                if (!Switches.ContainsKey(flag)) throw Unknown(arg);
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw GatewayStartupException.Usage($"option {flag} needs a value");
                value = args[++i];
            }
            if (!Switches.TryGetValue(flag, out var key)) throw Unknown(arg);
            if (!seen.Add(flag)) throw GatewayStartupException.Usage($"option {flag} given twice");
            values[key] = value;
        }
        return values;
    }

    private static GatewayStartupException Unknown(string arg) => arg.StartsWith("--", StringComparison.Ordinal)
        ? GatewayStartupException.Usage($"unknown option {arg.Split('=')[0]} (see --help)")
        : GatewayStartupException.Usage($"unexpected argument '{arg}': options are --name value (see --help)");

    private static string Key(string property) => GatewayOptions.SectionName + ":" + property;
}

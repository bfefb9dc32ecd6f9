namespace Llama4Cluster.Cluster.Hosting;

/// <summary>
/// The hosts' strict flag parser (silo host, gateway): <c>--flag value</c> and <c>--flag=value</c> onto configuration keys.
/// An unknown flag, a flag without its value or a flag given twice is a usage error, so a typo never silently runs with
/// defaults (as <c>Configuration.AddCommandLine</c> does: it takes any <c>--Key value</c> as a configuration key).
/// </summary>
public static class CommandLineFlags
{
    /// <summary>Parses <paramref name="args"/> into configuration key/value pairs by <paramref name="switches"/> (flag → key).</summary>
    /// <exception cref="CommandLineException">A usage error; the message names the argument and says to see --help.</exception>
    public static IReadOnlyDictionary<string, string?> Parse(IReadOnlyList<string> args, IReadOnlyDictionary<string, string> switches)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(switches);
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
                if (!switches.ContainsKey(flag)) throw Unknown(arg);
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                    throw new CommandLineException($"option {flag} needs a value");
                value = args[++i];
            }
            if (!switches.TryGetValue(flag, out var key)) throw Unknown(arg);
            if (!seen.Add(flag)) throw new CommandLineException($"option {flag} given twice");
            values[key] = value;
        }
        return values;
    }

    /// <summary>True when the arguments ask for the usage text.</summary>
    public static bool WantsHelp(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return args.Any(a => a is "--help" or "-h" or "-?");
    }

    /// <summary>
    /// Checks that <paramref name="value"/> (the value given for <paramref name="flag"/>) names a member of
    /// <typeparamref name="TEnum"/>, case-insensitively; null when it does, else an error naming the flag and the allowed values.
    /// </summary>
    public static string? CheckEnum<TEnum>(string flag, string? value) where TEnum : struct, Enum =>
        value is null || (Enum.TryParse<TEnum>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !int.TryParse(value, out _))
            ? null
            : $"{flag} '{value}': use {string.Join(" or ", Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant()))}";

    private static CommandLineException Unknown(string arg) => arg.StartsWith("--", StringComparison.Ordinal)
        ? new CommandLineException($"unknown option {arg.Split('=')[0]} (see --help)")
        : new CommandLineException($"unexpected argument '{arg}': options are --name value (see --help)");
}

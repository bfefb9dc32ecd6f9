namespace Llama4Cluster.Cluster.Hosting;

/// <summary>
/// The hosts' strict flag parser (silo host, gateway): <c>--flag value</c> and <c>--flag=value</c> onto configuration keys,
/// parsed by <see cref="CommandLineSyntax"/>. An unknown flag, a flag without its value or a flag given twice is a usage
/// error, so a typo never silently runs with defaults (as <c>Configuration.AddCommandLine</c> does: it takes any
/// <c>--Key value</c> as a configuration key).
/// </summary>
public static class CommandLineFlags
{
    /// <summary>Parses <paramref name="args"/> into configuration key/value pairs by <paramref name="flags"/>.</summary>
    /// <exception cref="CommandLineException">A usage error; the message names the argument (an unknown one says to see --help).</exception>
    public static IReadOnlyDictionary<string, string?> Parse(IReadOnlyList<string> args, IReadOnlyList<ConfigurationFlag> flags)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(flags);
        IReadOnlyDictionary<string, IReadOnlyList<string>> given;
        try
        {
            given = CommandLineSyntax.Parse(args, flags.Select(f => f.Option).ToList());
        }
        catch (CommandLineException e) when (e.Unknown)
        {
            throw new CommandLineException(e.Message + " (see --help)", unknown: true);
        }
        var keys = flags.ToDictionary(f => f.Name, f => f.Key, StringComparer.Ordinal);
        return given.ToDictionary(g => keys[g.Key], g => (string?)g.Value[0], StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>True when the arguments ask for the usage text.</summary>
    public static bool WantsHelp(IReadOnlyList<string> args) => CommandLineSyntax.WantsHelp(args);

    /// <summary>The <c>--help</c> text of a host: its usage line and one line per flag.</summary>
    public static string Help(string usage, string summary, IReadOnlyList<ConfigurationFlag> flags)
    {
        ArgumentNullException.ThrowIfNull(flags);
        return CommandLineSyntax.Help(usage, summary, flags.Select(f => f.Option).ToList());
    }

    /// <summary>
    /// Checks that <paramref name="value"/> (the value given for <paramref name="flag"/>) names a member of
    /// <typeparamref name="TEnum"/>, case-insensitively; null when it does, else an error naming the flag and the allowed values.
    /// </summary>
    public static string? CheckEnum<TEnum>(string flag, string? value) where TEnum : struct, Enum =>
        value is null || (Enum.TryParse<TEnum>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed) && !int.TryParse(value, out _))
            ? null
            : $"{flag} '{value}': use {string.Join(" or ", Enum.GetNames<TEnum>().Select(n => n.ToLowerInvariant()))}";
}

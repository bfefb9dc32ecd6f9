namespace Llama4Cluster.Cluster.Hosting;

/// <summary>
/// A host's flag (silo host, gateway) that sets one configuration key: <c>--name VALUE</c> → <paramref name="Key"/>, so
/// the same setting can come from <c>appsettings.json</c> or the environment (<c>Llama4__DType</c>) as well.
/// </summary>
public sealed record ConfigurationFlag(string Name, string Value, string Key, string Help)
{
    /// <summary>The flag as an option of the command line.</summary>
    public CommandLineOption Option => new(Name, Value, Help);

    /// <summary>Flag (<c>--name</c>) → configuration key, for a host's flag table.</summary>
    public static IReadOnlyDictionary<string, string> Switches(IEnumerable<ConfigurationFlag> flags) =>
        flags.ToDictionary(f => "--" + f.Name, f => f.Key, StringComparer.Ordinal);
}

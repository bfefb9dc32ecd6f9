using System.Globalization;
using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli;

/// <summary>
/// The options of one command line, parsed by System.CommandLine (<see cref="CommandLineSyntax"/>) against the options
/// the command declares; the command reads them by name with the typed accessors below, whose range and format errors
/// are <see cref="UsageException"/>s naming the option. An undeclared option is a usage error at once; a declared one
/// given but never read by the command (one that does not apply to the line's other choices) is reported by
/// <see cref="EnsureAllUsed"/>.
/// </summary>
public sealed class Arguments
{
    private readonly IReadOnlyDictionary<string, IReadOnlyList<string>> _values;
    private readonly HashSet<string> _declared;
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);

    /// <exception cref="UsageException">An unknown option, a stray argument, a missing value or an option given twice.</exception>
    public Arguments(IEnumerable<string> args, IReadOnlyList<CommandLineOption> options)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(options);
        _declared = options.Select(o => o.Name).ToHashSet(StringComparer.Ordinal);
        try
        {
            _values = CommandLineSyntax.Parse(args.ToList(), options);
        }
        catch (CommandLineException e)
        {
            throw new UsageException(e.Message);
        }
    }

    /// <summary>A switch: true when given (<c>--json</c>, <c>--json=true</c>), false when absent or <c>--json=false</c>.</summary>
    public bool Flag(string name) => Optional(name) == "true";

    /// <summary>The value of a single-valued option, or null when it was not given.</summary>
    public string? Optional(string name)
    {
        Read(name);
        return _values.TryGetValue(name, out var v) ? v[0] : null;
    }

    public string Required(string name) =>
        Optional(name) ?? throw new UsageException($"missing required option --{name}");

    public int? Int(string name, int? min = null, int? max = null)
    {
        string? s = Optional(name);
        if (s is null) return null;
        if (!int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            throw new UsageException($"--{name} expects an integer; got '{s}'");
        if (v < min || v > max)
            throw new UsageException($"--{name} must be between {min?.ToString(CultureInfo.InvariantCulture) ?? "-inf"} and {max?.ToString(CultureInfo.InvariantCulture) ?? "inf"}; got {v}");
        return v;
    }

    public long? Long(string name)
    {
        string? s = Optional(name);
        if (s is null) return null;
        return long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out long v)
            ? v
            : throw new UsageException($"--{name} expects an integer; got '{s}'");
    }

    public double? Double(string name, double? min = null, double? max = null)
    {
        string? s = Optional(name);
        if (s is null) return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v))
            throw new UsageException($"--{name} expects a number; got '{s}'");
        if (v < min || v > max)
            throw new UsageException($"--{name} must be between {min} and {max}; got {s}");
        return v;
    }

    /// <summary>A comma-separated list of integers, e.g. <c>1,17,42</c>.</summary>
    public int[]? IntList(string name)
    {
        string? s = Optional(name);
        if (s is null) return null;
        var parts = s.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) throw new UsageException($"--{name} expects a comma-separated list of integers; got '{s}'");
        var result = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.Integer, CultureInfo.InvariantCulture, out result[i]))
                throw new UsageException($"--{name} expects a comma-separated list of integers; '{parts[i]}' is not one");
        return result;
    }

    /// <summary>Every value of a repeatable option, in command-line order (empty when not given).</summary>
    public IReadOnlyList<string> All(string name)
    {
        Read(name);
        return _values.TryGetValue(name, out var all) ? all : [];
    }

    /// <summary>Throws for options given but never read by the command: they do not apply to this command line.</summary>
    public void EnsureAllUsed()
    {
        var unused = _values.Keys.Where(k => !_used.Contains(k)).Select(u => "--" + u).ToList();
        if (unused.Count > 0)
            throw new UsageException($"option{(unused.Count > 1 ? "s" : "")} {string.Join(", ", unused)} do{(unused.Count > 1 ? "" : "es")} not apply to this command line");
    }

    // Reading an option the command never declared is a bug of the command, not of its user.
    private void Read(string name)
    {
        if (!_declared.Contains(name)) throw new InvalidOperationException($"the command reads --{name} but does not declare it");
        _used.Add(name);
    }
}

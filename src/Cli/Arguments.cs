using System.Globalization;

namespace Llama4Cluster.Cli;

/// <summary>
/// <c>--name value</c> options and <c>--flag</c> switches after a command name. Every option must be
/// consumed by the command; unknown ones are reported as usage errors.
/// </summary>
public sealed class Arguments
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string?>> _repeated = new(StringComparer.Ordinal); // second and later values

    // An option given last without a value: reported as missing its value only if the command reads it, so an unknown
    // trailing option is reported as unknown (by EnsureAllUsed) rather than as one that needs a value.
    private readonly HashSet<string> _valueMissing = new(StringComparer.Ordinal);

    public Arguments(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (!a.StartsWith("--", StringComparison.Ordinal) || a.Length == 2)
                throw new UsageException($"unexpected argument '{a}'");
            string name = a[2..];
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            else if (!flags.Contains(name))
            {
                if (i + 1 >= list.Count)
                    _valueMissing.Add(name);
                else
                    value = list[++i];
            }
            // Given twice: an error unless the command reads the option as repeatable (All).
            if (!_values.TryAdd(name, value))
            {
                if (!_repeated.TryGetValue(name, out var more)) _repeated[name] = more = new List<string?>();
                more.Add(value);
            }
        }
    }

    public bool Flag(string name)
    {
        _used.Add(name);
        if (_repeated.ContainsKey(name)) throw new UsageException($"option --{name} given twice");
        if (!_values.TryGetValue(name, out var v)) return false;
        if (v is null) return true;
        return v.ToLowerInvariant() switch
        {
            "true" or "1" or "yes" => true,
            "false" or "0" or "no" => false,
            _ => throw new UsageException($"--{name} is a switch; got '{v}'"),
        };
    }

    public string? Optional(string name)
    {
        _used.Add(name);
        if (_repeated.ContainsKey(name)) throw new UsageException($"option --{name} given twice");
        if (_valueMissing.Contains(name)) throw new UsageException($"option --{name} needs a value");
        return _values.TryGetValue(name, out var v) ? v : null;
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
        _used.Add(name);
        if (!_values.TryGetValue(name, out var first)) return [];
        var all = new List<string?> { first };
        if (_repeated.TryGetValue(name, out var more)) all.AddRange(more);
        if (all.Any(v => v is null) || _valueMissing.Contains(name)) throw new UsageException($"option --{name} needs a value");
        return all!;
    }

    /// <summary>Throws for options given but never read by the command.</summary>
    public void EnsureAllUsed()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0)
            throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}

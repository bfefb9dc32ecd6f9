using System.CommandLine;
using System.CommandLine.Parsing;

namespace Llama4Cluster.Cluster.Hosting;

/// <summary>
/// Parses <c>--name value</c>, <c>--name=value</c> and switches against a declared option list with System.CommandLine,
/// the one parser of <c>llama4</c>, the silo host and the gateway. Strict: an unknown option, a stray argument, an option
/// without its value or a single-valued option given twice is a <see cref="CommandLineException"/> whose message names the
/// option, so a typo never runs with defaults. Response files (<c>@file</c>) are off: a prompt may begin with '@'.
/// </summary>
public static class CommandLineSyntax
{
    private static readonly ParserConfiguration Configuration = new() { ResponseFileTokenReplacer = null };

    /// <summary>
    /// The given options by name (without dashes), each with its values in command-line order; a switch's value is
    /// "true" or "false". Options not given are absent.
    /// </summary>
    /// <exception cref="CommandLineException">A usage error naming the offending argument.</exception>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> Parse(IReadOnlyList<string> args, IReadOnlyList<CommandLineOption> options)
    {
        ArgumentNullException.ThrowIfNull(args);
        ArgumentNullException.ThrowIfNull(options);
        var command = new Command("command");
        var declared = new List<(CommandLineOption Spec, Option Option)>(options.Count);
        foreach (var spec in options)
        {
            Option option = spec.IsSwitch
                ? new Option<bool>(spec.Flag)
                : spec.Repeatable
                    ? new Option<string[]>(spec.Flag) { AllowMultipleArgumentsPerToken = false }
                    : new Option<string>(spec.Flag);
            command.Options.Add(option);
            declared.Add((spec, option));
        }
        var result = command.Parse(args.ToArray(), Configuration);
        if (result.UnmatchedTokens.Count > 0) throw Unexpected(result.UnmatchedTokens[0]);
        foreach (var error in result.Errors)
        {
            if (error.SymbolResult is OptionResult given)
            {
                string flag = given.Option.Name;
                throw given.Tokens.Count switch
                {
                    0 => new CommandLineException($"option {flag} needs a value"),
                    > 1 => new CommandLineException($"option {flag} given twice"),
                    _ => new CommandLineException($"{flag}: {Sentence(error.Message)}"),
                };
            }
            throw new CommandLineException(Sentence(error.Message));
        }
        var values = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        foreach (var (spec, option) in declared)
        {
            if (result.GetResult(option) is not { Implicit: false } given) continue;
            values[spec.Name] = spec.IsSwitch
                ? [result.GetValue((Option<bool>)option) ? "true" : "false"]
                : given.Tokens.Select(t => t.Value).ToArray();
        }
        return values;
    }

    /// <summary>True when the arguments ask for the usage text (<c>--help</c>, <c>-h</c> or <c>-?</c> anywhere).</summary>
    public static bool WantsHelp(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        return args.Any(a => a is "--help" or "-h" or "-?");
    }

    /// <summary>
    /// The help text: the usage line, an optional summary, then every option with its value placeholder and help line,
    /// aligned in two columns.
    /// </summary>
    public static string Help(string usage, string? summary, IReadOnlyList<CommandLineOption> options)
    {
        ArgumentNullException.ThrowIfNull(usage);
        ArgumentNullException.ThrowIfNull(options);
        var text = new System.Text.StringBuilder();
        text.Append("usage: ").AppendLine(usage);
        if (!string.IsNullOrEmpty(summary)) text.AppendLine().AppendLine(summary);
        if (options.Count == 0) return text.ToString();
        var names = options.Select(o => o.IsSwitch ? o.Flag : $"{o.Flag} {o.Value}{(o.Repeatable ? " ..." : "")}").ToList();
        int width = names.Max(n => n.Length) + 2;
        text.AppendLine().AppendLine("options:");
        for (int i = 0; i < options.Count; i++)
            text.Append("  ").Append(names[i].PadRight(width)).AppendLine(options[i].Help);
        text.Append("  ").Append("--help".PadRight(width)).AppendLine("print this help");
        return text.ToString();
    }

    private static CommandLineException Unexpected(string token) => token.StartsWith('-')
        ? new CommandLineException($"unknown option {token.Split('=')[0]}", unknown: true)
        : new CommandLineException($"unexpected argument '{token}': options are --name value", unknown: true);

    // System.CommandLine's messages are sentences ("Cannot parse argument 'x' for option '--n' ..."); ours are clauses.
    private static string Sentence(string message) =>
        message.Length > 1 ? char.ToLowerInvariant(message[0]) + message[1..].TrimEnd('.') : message;
}

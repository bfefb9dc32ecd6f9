using Llama4Cluster.Cluster.Hosting;

namespace Llama4Cluster.Cli;

/// <summary>
/// A command of <c>llama4</c>: its name, usage line (without the leading <c>llama4 </c>), what it does, the options it
/// takes, and what runs it; or a group of subcommands (<c>bench kernels</c>, <c>bench batch</c>, …).
/// </summary>
internal sealed record CliCommand(string Name, string Usage, string Summary, IReadOnlyList<CommandLineOption> Options, Func<Arguments, int> Run)
{
    /// <summary>The subcommands of a group; empty for a command that runs itself.</summary>
    public IReadOnlyList<CliCommand> Subcommands { get; init; } = [];

    /// <summary>A group: <c>llama4 NAME SUB [options]</c>, one of <paramref name="subcommands"/>.</summary>
    public static CliCommand Group(string name, string summary, IReadOnlyList<CliCommand> subcommands) =>
        new(name, string.Join(" | ", subcommands.Select(s => s.Usage)), summary, [],
            _ => throw new InvalidOperationException($"'{name}' runs one of its subcommands"))
        {
            Subcommands = subcommands,
        };

    /// <summary>The <c>--help</c> text: the usage line (one per subcommand of a group), what it does, and its options.</summary>
    public string Help()
    {
        if (Subcommands.Count == 0) return CommandLineSyntax.Help("llama4 " + Usage, Summary, Options);
        var text = new System.Text.StringBuilder();
        text.Append("usage: llama4 ").Append(Name).Append(" <").Append(string.Join('|', Subcommands.Select(s => s.Name))).AppendLine("> [options]");
        text.AppendLine().AppendLine(Summary).AppendLine();
        foreach (var sub in Subcommands) text.Append("  llama4 ").AppendLine(sub.Usage);
        text.AppendLine().Append("llama4 ").Append(Name).AppendLine(" <subcommand> --help: what it does and its options");
        return text.ToString();
    }
}

using Llama4Cluster.Cli.Tests.Deploy;

namespace Llama4Cluster.Cli.Tests.Docs;

/// <summary>
/// The flags the README and docs promise are accepted: every option of every <c>llama4</c> line they show is one that
/// command's <c>--help</c> lists (what its parser is built from), and every silo-host and gateway flag they show is in that
/// host's flag table.
/// </summary>
public sealed class DocumentedFlagsTests
{
    [Fact]
    public void EveryLlama4OptionTheDocsShowIsOneItsCommandTakes()
    {
        var top = CliRunner.Run("--help");
        Assert.Equal(0, top.ExitCode);
        // "  llama4 bench batch --model DIR ..." → "bench batch"; "  llama4 plan (--preset ..." → "plan".
        var commands = top.Stdout.Split('\n').Where(l => l.StartsWith("  llama4 ", StringComparison.Ordinal))
            .Select(l => string.Join(' ', l["  llama4 ".Length..].Split(' ').TakeWhile(w => w.Length > 0 && char.IsAsciiLetterLower(w[0]))))
            .ToHashSet(StringComparer.Ordinal);
        Assert.Contains("bench batch", commands);
        Assert.Contains("plan", commands);

        var accepted = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        var failures = new List<string>();
        int checkedLines = 0;
        foreach (var line in DocumentedCommandLines.Llama4())
        {
            if (line.Words.Count == 0) continue; // "llama4 --help", "llama4 … --engine cluster"
            foreach (string command in Commands(line.Words, commands))
            {
                if (!accepted.TryGetValue(command, out var options)) accepted[command] = options = HelpOptions(command);
                checkedLines++;
                failures.AddRange(line.Options.Where(o => o is not ("help" or "version") && !options.Contains(o))
                    .Select(o => $"{line.Where}: llama4 {command} does not take --{o}"));
            }
        }
        Assert.True(checkedLines >= 40, $"only {checkedLines} llama4 lines found in {string.Join(", ", DocumentedCommandLines.Files)}");
        Assert.Empty(failures);
    }

    [Fact]
    public void EveryHostFlagTheDocsShowIsInItsTable()
    {
        var silo = DocumentedCommandLines.Silo();
        var gateway = DocumentedCommandLines.Gateway();
        Assert.True(silo.Count >= 5 && gateway.Count >= 3, $"found {silo.Count} silo and {gateway.Count} gateway lines");
        var failures = silo.SelectMany(l => l.Options.Where(o => o != "help" && !ManifestChecks.SiloFlags.Contains("--" + o))
                .Select(o => $"{l.Where}: the silo host has no --{o}"))
            .Concat(gateway.SelectMany(l => l.Options.Where(o => o != "help" && !ManifestChecks.GatewayFlags.Contains("--" + o))
                .Select(o => $"{l.Where}: the gateway has no --{o}")))
            .ToList();
        Assert.Empty(failures);
    }

    // "generate|logits" names two commands; "bench serve" one; words that name no command (COMMAND, …) none.
    private static IEnumerable<string> Commands(IReadOnlyList<string> words, IReadOnlySet<string> commands)
    {
        string first = words[0];
        if (first == "bench")
            return words.Count > 1 ? words[1].Split('|').Select(s => "bench " + s).Where(commands.Contains) : [];
        return first.Split('|').Where(commands.Contains);
    }

    // The options column of "llama4 COMMAND --help": lines "  --name VALUE   help".
    private static HashSet<string> HelpOptions(string command)
    {
        var help = CliRunner.Run([.. command.Split(' '), "--help"]);
        Assert.Equal(0, help.ExitCode);
        var options = help.Stdout.Split('\n').Where(l => l.StartsWith("  --", StringComparison.Ordinal))
            .Select(l => l[4..].Split(' ')[0]).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("help", options);
        return options;
    }
}

using System.Text.RegularExpressions;
using Llama4Cluster.Cli.Tests.Deploy;

namespace Llama4Cluster.Cli.Tests.Docs;

/// <summary>
/// The command lines README.md and docs/*.md show a user: each <c>llama4 …</c>, silo-host and gateway invocation, with the
/// options it names. A line continued with a trailing backslash counts as one; an invocation ends at a backtick, a
/// comment, <c>&amp;&amp;</c>, <c>;</c> or a pipe into another program.
/// </summary>
internal static partial class DocumentedCommandLines
{
    /// <summary>One invocation: the words after the program name (up to the first option), its options, and where it is.</summary>
    public sealed record Invocation(IReadOnlyList<string> Words, IReadOnlyList<string> Options, string Where);

    /// <summary>The files searched, relative to the repository root.</summary>
    public static IReadOnlyList<string> Files { get; } =
        ["README.md", .. Directory.GetFiles(Path.Combine(RenderedManifests.RepositoryRoot, "docs"), "*.md").Order(StringComparer.Ordinal)
            .Select(f => Path.GetRelativePath(RenderedManifests.RepositoryRoot, f))];

    /// <summary>Every <c>llama4 WORDS --options</c> invocation.</summary>
    public static IReadOnlyList<Invocation> Llama4() => Find(Llama4Start());

    /// <summary>Every invocation of the silo host (<c>Llama4Cluster.Silos.dll …</c>, <c>dotnet run --project src/Silos … --</c>).</summary>
    public static IReadOnlyList<Invocation> Silo() => Find(SiloStart());

    /// <summary>Every invocation of the gateway (<c>Llama4Cluster.Gateway.dll …</c>, <c>dotnet run --project src/Gateway … --</c>).</summary>
    public static IReadOnlyList<Invocation> Gateway() => Find(GatewayStart());

    private static List<Invocation> Find(Regex start)
    {
        var found = new List<Invocation>();
        foreach (string file in Files)
        {
            var lines = Joined(File.ReadAllLines(Path.Combine(RenderedManifests.RepositoryRoot, file)));
            foreach (var (line, number) in lines)
            {
                foreach (Match m in start.Matches(line))
                {
                    string rest = line[(m.Index + m.Length)..];
                    int end = rest.Length;
                    foreach (var stop in Stop().Matches(rest).Cast<Match>().Take(1)) end = stop.Index;
                    string text = rest[..end];
                    var words = Words().Match(text).Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    var options = Option().Matches(text).Select(o => o.Groups[1].Value).ToList();
                    found.Add(new Invocation(words, options, $"{file}:{number}"));
                }
            }
        }
        return found;
    }

    // Lines ending in a backslash continue on the next one; each joined line keeps the number of its first.
    private static List<(string Line, int Number)> Joined(string[] lines)
    {
        var joined = new List<(string, int)>();
        for (int i = 0; i < lines.Length; i++)
        {
            int first = i + 1;
            string line = lines[i];
            while (line.TrimEnd().EndsWith('\\') && i + 1 < lines.Length) line = line.TrimEnd()[..^1] + " " + lines[++i].Trim();
            joined.Add((line, first));
        }
        return joined;
    }

    [GeneratedRegex(@"(?<![\w./-])llama4 ")]
    private static partial Regex Llama4Start();

    [GeneratedRegex(@"(?:Llama4Cluster\.Silos\.dll|--project src/Silos[^`#]*? --(?= ))")]
    private static partial Regex SiloStart();

    [GeneratedRegex(@"(?:Llama4Cluster\.Gateway\.dll|--project src/Gateway[^`#]*? --(?= ))")]
    private static partial Regex GatewayStart();

    // Where an invocation ends: a backtick, a comment, another command, or a pipe into a program (" | --x" is an alternative).
    [GeneratedRegex(@"`|\s#|&&|;|\|\s*[a-z]|(?<![\w./-])llama4 ")]
    private static partial Regex Stop();

    [GeneratedRegex(@"^\s*((?:[a-z][a-z0-9|-]*\s*)*)")]
    private static partial Regex Words();

    [GeneratedRegex(@"(?<![\w-])--([a-z][a-z0-9-]*)")]
    private static partial Regex Option();
}

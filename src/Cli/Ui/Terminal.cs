using System.Globalization;
using Spectre.Console;

namespace Llama4Cluster.Cli.Ui;

/// <summary>
/// Human output goes to stderr (stdout stays clean for --json): Spectre progress bars and tables on a
/// terminal, plain lines when redirected (Spectre's progress is silent then).
/// </summary>
public static class Terminal
{
    public static IAnsiConsole Error { get; } = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });

    public static bool Interactive => !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("CI") is null;

    public static void Info(string message)
    {
        if (Interactive) Error.MarkupLine($"[grey]{Markup.Escape(message)}[/]");
        else Console.Error.WriteLine(message);
    }

    /// <summary>Runs <paramref name="work"/> showing its fractional progress (0..1) under <paramref name="label"/>.</summary>
    public static T WithProgress<T>(string label, Func<IProgress<double>, T> work)
    {
        if (Interactive)
        {
            T result = default!;
            Error.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(label), maxValue: 1.0);
                    result = work(new SyncProgress(v => task.Value = Math.Clamp(v, 0, 1)));
                    task.Value = 1.0;
                });
            return result;
        }
        int lastDecile = -1;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var value = work(new SyncProgress(v =>
        {
            int decile = (int)Math.Floor(Math.Clamp(v, 0, 1) * 10);
            if (decile > lastDecile)
            {
                lastDecile = decile;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: {decile * 10}% ({watch.Elapsed.TotalSeconds:F1} s)"));
            }
        }));
        if (lastDecile < 10)
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: 100% ({watch.Elapsed.TotalSeconds:F1} s)"));
        return value;
    }

    /// <summary>Prints a table to stdout: a Spectre table on a terminal, aligned plain text otherwise.</summary>
    public static void Table(string title, IReadOnlyList<string> headers, IEnumerable<IReadOnlyList<string>> rows)
    {
        var data = rows.ToList();
        if (!Console.IsOutputRedirected && Environment.GetEnvironmentVariable("CI") is null)
        {
            var table = new Table().Title(Markup.Escape(title));
            foreach (var h in headers) table.AddColumn(Markup.Escape(h));
            foreach (var r in data) table.AddRow(r.Select(Markup.Escape).ToArray());
            AnsiConsole.Write(table);
            return;
        }
        var widths = headers.Select((h, i) => Math.Max(h.Length, data.Count == 0 ? 0 : data.Max(r => r[i].Length))).ToArray();
        Console.WriteLine(title);
        Console.WriteLine(string.Join("  ", headers.Select((h, i) => h.PadRight(widths[i]))));
        foreach (var r in data) Console.WriteLine(string.Join("  ", r.Select((c, i) => c.PadRight(widths[i]))));
    }

    /// <summary>An <see cref="IProgress{T}"/> that reports on the calling thread (no SynchronizationContext hop).</summary>
    private sealed class SyncProgress(Action<double> report) : IProgress<double>
    {
        public void Report(double value) => report(value);
    }
}

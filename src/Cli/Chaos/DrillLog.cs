using System.Diagnostics;
using System.Globalization;
using Llama4Cluster.Cli.Ui;
using Spectre.Console;

namespace Llama4Cluster.Cli.Chaos;

/// <summary>
/// The drill's progress on stderr: a Spectre progress bar per round on a terminal (lines written meanwhile are held and
/// printed when the bar ends, so they do not tear it), plain lines when redirected (a line per 10 % of a round, and
/// every message as it happens).
/// </summary>
internal sealed class DrillLog
{
    private readonly object _gate = new();
    private List<string>? _held;

    /// <summary>One line; thread-safe.</summary>
    public void Write(string message)
    {
        lock (_gate)
        {
            if (_held is not null)
            {
                _held.Add(message);
                return;
            }
        }
        Terminal.Info(message);
    }

    /// <summary>Runs <paramref name="work"/> showing <paramref name="fraction"/> (0..1) under <paramref name="label"/>.</summary>
    public async Task WithProgressAsync(string label, Func<double> fraction, Func<Task> work)
    {
        if (!Terminal.Interactive)
        {
            await PlainAsync(label, fraction, work());
            return;
        }
        lock (_gate) _held = [];
        try
        {
            await Terminal.Error.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask(Markup.Escape(label), maxValue: 1.0);
                    var running = work();
                    while (!running.IsCompleted)
                    {
                        task.Value = Math.Clamp(fraction(), 0, 1);
                        await Task.WhenAny(running, Task.Delay(200));
                    }
                    task.Value = 1.0;
                    await running;
                });
        }
        finally
        {
            List<string> held;
            lock (_gate)
            {
                held = _held ?? [];
                _held = null;
            }
            foreach (var line in held) Terminal.Info(line);
        }
    }

    private static async Task PlainAsync(string label, Func<double> fraction, Task running)
    {
        var watch = Stopwatch.StartNew();
        int decile = 0;
        while (!running.IsCompleted)
        {
            await Task.WhenAny(running, Task.Delay(200));
            int now = (int)Math.Floor(Math.Clamp(fraction(), 0, 1) * 10);
            if (now > decile && now < 10)
            {
                decile = now;
                Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{label}: {decile * 10}% ({watch.Elapsed.TotalSeconds:F1} s)"));
            }
        }
        await running;
    }
}

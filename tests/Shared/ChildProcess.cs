using System.Collections.Concurrent;
using System.Diagnostics;

namespace Llama4Cluster.Tests.Shared;

/// <summary>A process started by a test (<c>dotnet X.dll ...</c>, redis-server), its output kept for assertions and failure
/// messages; killed with its children on <see cref="Dispose"/>. Shared by the test projects (linked from tests/Shared).</summary>
public sealed class ChildProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private ChildProcess(string name, Process process)
    {
        Name = name;
        _process = process;
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public string Output => string.Join('\n', _lines);

    public static ChildProcess Start(string name, string executable, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_gcServer"] = "0";
        if (environment is not null)
            foreach (var (k, v) in environment) info.Environment[k] = v;
        return new ChildProcess(name, Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}"));
    }

    /// <summary>Waits (bounded) for a line of output matching <paramref name="predicate"/>; fails with the output if the process exits.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var line = _lines.FirstOrDefault(predicate);
            if (line is not null) return line;
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}:\n{Output}");
            await Task.Delay(100);
        }
        throw new TimeoutException($"{Name} printed no expected line within {timeout.TotalSeconds:F0} s:\n{Output}");
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        while (_lines.Count > 400) _lines.TryDequeue(out _);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Never started or already reaped.
        }
        finally
        {
            _process.Dispose();
        }
    }
}

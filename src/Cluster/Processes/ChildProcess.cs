using System.Collections.Concurrent;
using System.Diagnostics;

namespace Llama4Cluster.Cluster.Processes;

/// <summary>
/// A process this one started (a silo host, a gateway, redis-server), with its recent stdout and stderr lines kept for
/// error messages and tests. Its standard input is redirected, so a child never reads the terminal. <see cref="Dispose"/>
/// kills it with its own children and waits (bounded) for it to exit. The one launcher of the CLI, the tests and the tools.
/// </summary>
public sealed class ChildProcess : IDisposable
{
    /// <summary>Output lines kept; older ones are dropped.</summary>
    public const int KeptLines = 400;

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

    /// <summary>A name for messages: <c>silo 0</c>, <c>redis</c>.</summary>
    public string Name { get; }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code; only valid once <see cref="HasExited"/>.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Every kept output line, oldest first.</summary>
    public string Output => string.Join('\n', _lines);

    /// <summary>
    /// Starts <paramref name="executable"/> with <paramref name="args"/> (passed as an argument list: no shell quoting).
    /// The child's environment is this one's plus <paramref name="environment"/>; .NET children get workstation GC
    /// (<c>DOTNET_gcServer=0</c>): several of them share the machine's cores with their torch threads.
    /// </summary>
    /// <exception cref="InvalidOperationException">The process could not be started.</exception>
    public static ChildProcess Start(string name, string executable, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_gcServer"] = "0";
        if (environment is not null)
            foreach (var (k, v) in environment) info.Environment[k] = v;
        return new ChildProcess(name, Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}"));
    }

    /// <summary>
    /// Runs <paramref name="executable"/> to completion and returns its exit code, stdout and stderr (kept apart, unlike a
    /// started <see cref="ChildProcess"/>); killed with its children after <paramref name="timeout"/>.
    /// </summary>
    /// <exception cref="TimeoutException">The process ran longer than <paramref name="timeout"/>.</exception>
    public static async Task<ProcessResult> RunAsync(string executable, IEnumerable<string> args, TimeSpan timeout,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        ArgumentNullException.ThrowIfNull(args);
        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_gcServer"] = "0";
        if (environment is not null)
            foreach (var (k, v) in environment) info.Environment[k] = v;
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {executable}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{executable} {string.Join(' ', info.ArgumentList)} did not finish within {timeout.TotalSeconds:F0} s");
        }
        return new ProcessResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The last <paramref name="lines"/> output lines.</summary>
    public string Tail(int lines) => string.Join('\n', _lines.TakeLast(lines));

    /// <summary>Waits (bounded) for an output line matching <paramref name="predicate"/>; fails with the output if the process exits first.</summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> predicate, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(predicate);
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            var line = _lines.FirstOrDefault(predicate);
            if (line is not null) return line;
            if (_process.HasExited) throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode}:\n{Output}");
            await Task.Delay(100, cancellationToken);
        }
        throw new TimeoutException($"{Name} printed no expected line within {timeout.TotalSeconds:F0} s:\n{Output}");
    }

    /// <summary>Kills the process and its children without waiting; a process already gone is fine.</summary>
    public void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        _lines.Enqueue(line);
        while (_lines.Count > KeptLines) _lines.TryDequeue(out _);
    }

    /// <summary>Kills the process (if still running) and waits up to 10 s for it to exit.</summary>
    public void Dispose()
    {
        Kill();
        try
        {
            _process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Never started or already released.
        }
        _process.Dispose();
    }
}

using System.Runtime.InteropServices;
using Llama4Cluster.Cluster.Processes;

namespace Llama4Cluster.Cli.Cluster;

/// <summary>
/// The processes a command started, killed together: on <see cref="Dispose"/>, on process exit, and on SIGINT, SIGTERM,
/// SIGHUP and SIGQUIT (after <c>onSignal</c>; the default handling, exit, follows). Killing is idempotent and
/// thread-safe, in reverse start order (what was started last goes first), and a second caller — the exit path while a
/// signal handler kills — returns only once the first is done, so the process never exits halfway. Used by the
/// ephemeral cluster of <c>--engine cluster</c> and by <c>llama4 chaos</c>.
/// </summary>
internal sealed class ChildProcessGroup : IDisposable
{
    private readonly object _gate = new();
    private readonly object _killing = new();
    private readonly List<ChildProcess> _children = [];
    private readonly List<PosixSignalRegistration> _signals = [];
    private bool _disposed;

    /// <param name="onSignal">Runs first when a termination signal arrives (e.g. to cancel the command's work).</param>
    public ChildProcessGroup(Action? onSignal = null)
    {
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT })
        {
            _signals.Add(PosixSignalRegistration.Create(signal, _ =>
            {
                onSignal?.Invoke();
                KillAll();
            }));
        }
    }

    /// <summary>The processes started and not yet forgotten, in start order.</summary>
    public IReadOnlyList<ChildProcess> Children
    {
        get
        {
            lock (_gate) return [.. _children];
        }
    }

    /// <summary>Starts a process that belongs to the group; a failure to start is a <see cref="ClusterStartException"/>.</summary>
    public ChildProcess Start(string name, string exe, IReadOnlyList<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ChildProcess child;
            try
            {
                child = ChildProcess.Start(name, exe, args, environment);
            }
            catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                throw new ClusterStartException($"could not start {exe}: {e.Message}");
            }

            _children.Add(child);
            return child;
        }
    }

    /// <summary>Releases a process that is gone or replaced (killing what may be left of it).</summary>
    public void Forget(ChildProcess child)
    {
        lock (_gate) _children.Remove(child);
        child.Dispose();
    }

    /// <summary>Kills every process of the group, last started first.</summary>
    public void KillAll()
    {
        lock (_killing)
        {
            List<ChildProcess> children;
            lock (_gate)
            {
                children = [.. _children];
                _children.Clear();
            }

            children.Reverse();
            foreach (var c in children) c.Kill();
            foreach (var c in children) c.Dispose();
        }
    }

    /// <summary>Kills the processes and stops listening for signals; returns false when already disposed.</summary>
    public bool Close()
    {
        lock (_gate)
        {
            if (_disposed) return false;
            _disposed = true;
        }

        KillAll();
        foreach (var s in _signals) s.Dispose();
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        return true;
    }

    public void Dispose() => Close();

    private void OnProcessExit(object? sender, EventArgs e) => KillAll();
}

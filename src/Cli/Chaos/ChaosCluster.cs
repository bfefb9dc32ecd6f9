using System.Globalization;
using System.Runtime.InteropServices;
using Llama4Cluster.Cli.Cluster;
using Llama4Cluster.Cluster.Processes;

namespace Llama4Cluster.Cli.Chaos;

/// <summary>What a drill's cluster runs.</summary>
internal sealed record ChaosClusterOptions
{
    public required string ModelDirectory { get; init; }
    public int AttentionSilos { get; init; } = 2;
    public int ExpertSilos { get; init; } = 2;
    public int ShardsPerLayer { get; init; } = 2;

    /// <summary>Expert-shard replicas; passed to the silos (<c>--expert-replicas</c>) only when above 1.</summary>
    public int Replicas { get; init; } = 1;

    public int ThreadsPerSilo { get; init; } = 1;

    /// <summary>Each silo on a loopback address of its own (<see cref="LoopbackHosts"/>; a restarted silo keeps its address).</summary>
    public bool DistinctAddresses { get; init; }

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(180);
}

/// <summary>One process of the cluster: its name (<c>expert 0</c>, <c>gateway</c>, <c>redis</c>), its role and the id of the
/// process that does the work (for redis-server and the gateway: the watched process, not its shell watchdog).</summary>
internal sealed record ClusterProcess(string Name, string Role, ChildProcess Process, int Pid)
{
    public bool HasExited => Process.HasExited || !ProcessSignals.Send(Pid, 0);
}

/// <summary>
/// A drill's local multi-process cluster: redis-server on a free loopback port, attention and expert silo processes
/// (<c>dotnet Llama4Cluster.Silos.dll --role attention|expert --redis …</c>), every silo joined before a gateway process
/// (<c>dotnet Llama4Cluster.Gateway.dll --redis … --port P</c>) places the grains. Silos and the gateway can be started
/// again with the same flags (the gateway on the same port). <see cref="Dispose"/> kills every process it started; so do
/// Ctrl+C, SIGTERM, SIGHUP and this process's exit; silos watch this process (<c>--parent-pid</c>), redis-server and the
/// gateway run under a shell watchdog that does.
/// </summary>
internal sealed class ChaosCluster : IDisposable
{
    private readonly ChaosClusterOptions _options;
    private readonly Action<string> _log;
    private readonly string _siloHost, _gatewayHost;
    private readonly string _clusterId = "llama4-chaos-" + Guid.NewGuid().ToString("N")[..8];
    private readonly ChildProcessGroup _processes;
    private readonly CancellationTokenSource _interrupt = new();
    private int _gatewayPort;

    private ChaosCluster(ChaosClusterOptions options, Action<string> log, string siloHost, string gatewayHost)
    {
        _options = options;
        _log = log;
        _siloHost = siloHost;
        _gatewayHost = gatewayHost;
        _processes = new ChildProcessGroup(onSignal: Interrupt); // kills the processes after Interrupt; exit follows
    }

    /// <summary>Cancelled by Ctrl+C, SIGTERM, SIGHUP or SIGQUIT, before the processes are killed: what follows is no fault.</summary>
    public CancellationToken Interrupted => _interrupt.Token;

    public ClusterProcess Redis { get; private set; } = null!;

    /// <summary>The silos: attention 0 … then expert 0 …; an entry is replaced when its silo is started again.</summary>
    public List<ClusterProcess> Silos { get; } = [];

    public ClusterProcess Gateway { get; private set; } = null!;

    public string RedisEndpoint { get; private set; } = "";

    public Uri GatewayUrl => new(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{_gatewayPort}/"));

    /// <summary>Starts redis-server and the silos, waits until every silo has joined, then starts the gateway and waits until it
    /// listens (readiness is the caller's: <see cref="WaitAsync"/>). Cleans up on failure.</summary>
    public static async Task<ChaosCluster> StartAsync(ChaosClusterOptions options, Action<string> log, CancellationToken cancellationToken)
    {
        string redis = HostExecutables.FindOnPath("redis-server")
            ?? throw new UsageException("llama4 chaos needs redis-server on the PATH (e.g. apt-get install -y redis-server)");
        var cluster = new ChaosCluster(options, log, HostExecutables.SiloHost(), HostExecutables.GatewayHost());
        try
        {
            await cluster.StartCoreAsync(redis, cancellationToken);
            return cluster;
        }
        catch (Exception e) when (cluster.Interrupted.IsCancellationRequested && e is not OperationCanceledException)
        {
            cluster.Dispose();
            throw new OperationCanceledException("interrupted", e, cluster.Interrupted);
        }
        catch
        {
            cluster.Dispose();
            throw;
        }
    }

    private async Task StartCoreAsync(string redisExe, CancellationToken cancellationToken)
    {
        int redisPort = FreePorts.Loopback();
        RedisEndpoint = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{redisPort}");
        _log($"chaos: starting redis-server on {RedisEndpoint}");
        Redis = await StartWatchedAsync("redis", "redis", redisExe,
            ["--port", I(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], cancellationToken);
        if (!await FreePorts.WaitUntilListeningAsync(redisPort, DateTime.UtcNow + _options.StartTimeout, () => !Redis.HasExited, cancellationToken))
            throw new ClusterStartException($"redis-server did not listen on port {redisPort}{Tails([Redis])}");

        _log($"chaos: starting {_options.AttentionSilos} attention and {_options.ExpertSilos} expert silo processes " +
             $"({_options.ShardsPerLayer} expert shards/layer, {_options.Replicas} replica(s), {_options.ThreadsPerSilo} torch thread(s) each)");
        for (int i = 0; i < _options.AttentionSilos; i++) Silos.Add(StartSilo(Silos.Count, $"attention {I(i)}", "attention"));
        for (int i = 0; i < _options.ExpertSilos; i++) Silos.Add(StartSilo(Silos.Count, $"expert {I(i)}", "expert"));
        foreach (var silo in Silos) await WaitJoinedAsync(silo, cancellationToken);
        _log("chaos: every silo joined");

        _gatewayPort = FreePorts.Loopback();
        await StartGatewayAsync(cancellationToken);
    }

    /// <summary>Starts the gateway (again) on its port and waits until it listens.</summary>
    public async Task StartGatewayAsync(CancellationToken cancellationToken)
    {
        if (Gateway is { } old) Forget(old);
        Gateway = await StartWatchedAsync("gateway", "gateway", "dotnet", [
            _gatewayHost, "--model", Path.GetFullPath(_options.ModelDirectory), "--redis", RedisEndpoint, "--cluster-id", _clusterId,
            "--ranks", I(_options.AttentionSilos), "--shards", I(_options.ShardsPerLayer), "--host", "127.0.0.1", "--port", I(_gatewayPort),
        ], cancellationToken);
        if (!await FreePorts.WaitUntilListeningAsync(_gatewayPort, DateTime.UtcNow + _options.StartTimeout, () => !Gateway.HasExited, cancellationToken))
            throw new ClusterStartException($"the gateway did not listen on port {_gatewayPort}{Tails([Gateway])}");
    }

    /// <summary>Starts silo <paramref name="index"/> again with the same flags and waits until it has joined; the old process
    /// gets SIGTERM first (killed after 20 s) when it still runs.</summary>
    public async Task RestartSiloAsync(int index, CancellationToken cancellationToken)
    {
        var old = Silos[index];
        if (!old.HasExited)
        {
            ProcessSignals.Send(old.Pid, ProcessSignals.Terminate);
            if (!await WaitExitAsync(old, TimeSpan.FromSeconds(20), cancellationToken)) ProcessSignals.Send(old.Pid, ProcessSignals.Kill);
            await WaitExitAsync(old, TimeSpan.FromSeconds(10), cancellationToken);
        }
        Forget(old);
        Silos[index] = StartSilo(index, old.Name, old.Role);
        await WaitJoinedAsync(Silos[index], cancellationToken);
    }

    /// <summary>Polls <paramref name="condition"/> every 200 ms until it holds; fails when a process that should run has exited
    /// (<paramref name="mustRun"/>) or at the deadline.</summary>
    public async Task WaitAsync(string what, Func<Task<bool>> condition, IReadOnlyList<ClusterProcess> mustRun, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (mustRun.FirstOrDefault(p => p.HasExited) is { } dead)
                throw new ClusterStartException($"{dead.Name} exited with code {(dead.Process.HasExited ? dead.Process.ExitCode : -1)} while waiting for {what}{Tails([dead])}");
            if (DateTime.UtcNow > deadline)
                throw new ClusterStartException($"{what}: not within {timeout.TotalSeconds:F0} s{Tails([.. Silos, Gateway])}");
            await Task.Delay(200, cancellationToken);
        }
    }

    /// <summary>Waits until <paramref name="process"/> has exited; false at the deadline.</summary>
    public static async Task<bool> WaitExitAsync(ClusterProcess process, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!process.HasExited)
        {
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(50, cancellationToken);
        }
        return true;
    }

    /// <summary>The last output lines of every running process, for error messages.</summary>
    public string Logs() => Tails([.. Silos, Gateway, Redis]);

    /// <summary>Starts silo number <paramref name="index"/> (its position in <see cref="Silos"/>, which picks its address).</summary>
    private ClusterProcess StartSilo(int index, string name, string role)
    {
        string[] replicas = _options.Replicas > 1 ? ["--expert-replicas", I(_options.Replicas)] : [];
        string[] address = _options.DistinctAddresses ? ["--advertise", LoopbackHosts.Address(index)] : [];
        var child = _processes.Start(name, "dotnet", [
            _siloHost, "--model", Path.GetFullPath(_options.ModelDirectory), "--role", role, "--redis", RedisEndpoint, "--cluster-id", _clusterId,
            "--ranks", I(_options.AttentionSilos), "--shards", I(_options.ShardsPerLayer), .. replicas, .. address, "--threads", I(_options.ThreadsPerSilo),
            "--parent-pid", I(Environment.ProcessId),
        ], null);
        return new ClusterProcess(name, role, child, child.Id);
    }

    private async Task WaitJoinedAsync(ClusterProcess silo, CancellationToken cancellationToken)
    {
        try
        {
            await silo.Process.WaitForLineAsync(l => l.Contains("Orleans Silo started", StringComparison.Ordinal), _options.StartTimeout, cancellationToken);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            throw new ClusterStartException($"{silo.Name} did not join: {Tails([silo])}");
        }
    }

    /// <summary>Starts <paramref name="exe"/> under the shell watchdog and learns the id of the process it runs.</summary>
    private async Task<ClusterProcess> StartWatchedAsync(string name, string role, string exe, IReadOnlyList<string> args, CancellationToken cancellationToken)
    {
        var child = _processes.Start(name, "/bin/sh", ["-c", HostExecutables.WatchdogScript, exe, .. args],
            new Dictionary<string, string> { ["LLAMA4_PARENT_PID"] = I(Environment.ProcessId) });
        string line;
        try
        {
            line = await child.WaitForLineAsync(l => l.StartsWith(HostExecutables.ChildPidPrefix, StringComparison.Ordinal), TimeSpan.FromSeconds(30), cancellationToken);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            throw new ClusterStartException($"could not start {name}: {e.Message}");
        }
        return new ClusterProcess(name, role, child, int.Parse(line[HostExecutables.ChildPidPrefix.Length..], CultureInfo.InvariantCulture));
    }

    /// <summary>Releases a process that is gone or replaced (killing what may be left of it).</summary>
    private void Forget(ClusterProcess process) => _processes.Forget(process.Process);

    private static string Tails(IEnumerable<ClusterProcess?> processes) =>
        string.Concat(processes.OfType<ClusterProcess>().Select(p => $"\n--- {p.Name} (last lines) ---\n{p.Process.Tail(15)}"));

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private void Interrupt()
    {
        try
        {
            _interrupt.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already disposed: nothing runs any more.
        }
    }

    /// <summary>Kills every started process (the gateway and silos first, redis last).</summary>
    public void Dispose()
    {
        if (!_processes.Close()) return;
        _interrupt.Dispose();
        _log("chaos: cluster stopped");
    }
}

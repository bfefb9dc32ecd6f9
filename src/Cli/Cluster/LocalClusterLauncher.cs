using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cluster.Processes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Cli.Cluster;

/// <summary>What an ephemeral local cluster runs: the silo host's model options, one value for every silo.</summary>
internal sealed record LocalClusterOptions
{
    public required string ModelDirectory { get; init; }
    public int Silos { get; init; } = 3;
    public int ShardsPerLayer { get; init; } = 3;

    /// <summary>Replicas of every expert shard (<c>--expert-replicas</c> on every silo).</summary>
    public int ExpertReplicas { get; init; } = 1;
    public int AttentionRanks { get; init; } = 1;

    /// <summary>Pipeline stages per attention rank (<c>--stages</c> on every silo).</summary>
    public int Stages { get; init; } = 1;

    /// <summary>Where the shared experts run (<c>--shared-experts</c> on every silo).</summary>
    public SharedExpertPlacement SharedExperts { get; init; } = SharedExpertPlacement.Rank;
    public string DType { get; init; } = "float32";
    public string WireDType { get; init; } = "fp32";
    public string Device { get; init; } = "cpu";
    public string DataPlane { get; init; } = "tcp";

    /// <summary>Batch-invariant bf16 kernels on every silo (<c>--batch-invariant true</c>).</summary>
    public bool BatchInvariant { get; init; }

    /// <summary>A placement plan file every silo places by (<c>--plan</c>); null: grains spread over the silos.</summary>
    public string? PlanFile { get; init; }

    /// <summary>With <see cref="PlanFile"/>: each silo's name and role in the plan, one silo process each, in order.</summary>
    public IReadOnlyList<(string Name, string Role)>? PlannedSilos { get; init; }

    /// <summary>Each silo on a loopback address of its own (127.0.0.2, 127.0.0.3, …: <see cref="LoopbackHosts"/>), standing for
    /// separate hosts (<c>--silo-addresses distinct</c>); false: every silo on 127.0.0.1.</summary>
    public bool DistinctAddresses { get; init; }

    /// <summary>Torch threads per silo process; the processes share the machine's cores deliberately.</summary>
    public int ThreadsPerSilo { get; init; } = 1;

    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(120);
}

/// <summary>
/// An ephemeral cluster on this machine: a <c>redis-server</c> on a free loopback port (membership) and
/// N processes of the silo host (<c>dotnet Llama4Cluster.Silos.dll --redis ... --parent-pid ...</c>), plus an
/// Orleans client in this process. <see cref="Dispose"/> kills every process it started; so do Ctrl+C, SIGTERM,
/// SIGHUP and process exit. The silos also watch this process and stop when it is gone (SIGKILL).
/// </summary>
internal sealed class LocalClusterLauncher : IDisposable
{
    private readonly ChildProcessGroup _processes = new();
    private readonly Action<string> _log;
    private readonly object _gate = new();
    private IHost? _client;
    private bool _disposed;

    private LocalClusterLauncher(Action<string> log)
    {
        _log = log;
    }

    public IClusterClient Client => _client?.Services.GetRequiredService<IClusterClient>() ?? throw new InvalidOperationException("the cluster is not started");

    public string RedisEndpoint { get; private set; } = "";

    public int SiloCount { get; private set; }

    /// <summary>Starts redis and the silos and connects a client once every silo has joined; cleans up on failure.</summary>
    public static async Task<LocalClusterLauncher> StartAsync(LocalClusterOptions options, Action<string> log, CancellationToken cancellationToken = default)
    {
        string redis = HostExecutables.FindOnPath("redis-server")
            ?? throw new UsageException("--engine cluster needs redis-server on the PATH (e.g. apt-get install -y redis-server)");
        string siloHost = HostExecutables.SiloHost();
        var launcher = new LocalClusterLauncher(log);
        try
        {
            await launcher.StartCoreAsync(options, redis, siloHost, cancellationToken);
            return launcher;
        }
        catch
        {
            launcher.Dispose();
            throw;
        }
    }

    private async Task StartCoreAsync(LocalClusterOptions options, string redisExe, string siloHost, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        var deadline = DateTime.UtcNow + options.StartTimeout;
        await StartRedisAsync(redisExe, deadline, cancellationToken);

        string clusterId = "llama4-cli-" + Guid.NewGuid().ToString("N")[..8];
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        _log($"cluster: starting {options.Silos} silo processes ({options.ShardsPerLayer} expert shards/layer, {options.AttentionRanks} attention rank(s), " +
             $"{options.ThreadsPerSilo} torch thread(s) each, {options.DType}, wire {options.WireDType}, data plane {options.DataPlane}" +
             (options.DistinctAddresses ? $", on {LoopbackHosts.Address(0)} to {LoopbackHosts.Address(options.Silos - 1)})" : ")"));
        var silos = new List<ChildProcess>();
        for (int i = 0; i < options.Silos; i++)
        {
            string[] placement = options.PlanFile is null || options.PlannedSilos is null
                ? ["--role", "all"]
                : ["--role", options.PlannedSilos[i].Role, "--plan", options.PlanFile, "--name", options.PlannedSilos[i].Name];
            string[] address = options.DistinctAddresses ? ["--advertise", LoopbackHosts.Address(i)] : [];
            silos.Add(_processes.Start($"silo {i}", "dotnet", [
                siloHost, "--model", Path.GetFullPath(options.ModelDirectory), .. placement, "--redis", RedisEndpoint, "--cluster-id", clusterId,
                "--dtype", options.DType, "--wire-dtype", options.WireDType, "--device", options.Device, "--data-plane", options.DataPlane,
                "--shards", I(options.ShardsPerLayer), "--expert-replicas", I(options.ExpertReplicas), "--ranks", I(options.AttentionRanks),
                "--stages", I(options.Stages), "--shared-experts", options.SharedExperts == SharedExpertPlacement.Shards ? "shards" : "rank",
                "--threads", I(options.ThreadsPerSilo), "--batch-invariant", options.BatchInvariant ? "true" : "false", .. address,
                "--parent-pid", I(Environment.ProcessId),
            ], new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning", ["Logging__LogLevel__Llama4Cluster"] = "Information" }));
        }
        SiloCount = silos.Count;

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders(); // stdout carries the command's JSON only
        builder.Services.AddSingleton<IHostLifetime, NoSignalLifetime>(); // signals are ours: kill the children, then exit
        builder.UseOrleansClient(client =>
        {
            client.AddLlama4Client(new Llama4ClientOptions { Redis = RedisEndpoint, ClusterId = clusterId });
        });
        var host = builder.Build();
        lock (_gate) _client = host;
        // The client needs a gateway in the membership table: retry while the silos start.
        while (true)
        {
            ThrowIfExited(silos);
            try
            {
                await host.StartAsync(cancellationToken);
                break;
            }
            catch (Exception e) when (e is not OperationCanceledException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                throw new ClusterStartException($"no silo gateway answered within {options.StartTimeout.TotalSeconds:F0} s: {e.Message}{Tails(silos)}");
            }
        }
        await WaitForSilosToJoinAsync(silos, deadline, options.StartTimeout, cancellationToken);
        _log(string.Create(CultureInfo.InvariantCulture, $"cluster: {silos.Count} silos joined ({watch.Elapsed.TotalSeconds:F1} s)"));
    }

    private async Task StartRedisAsync(string redisExe, DateTime deadline, CancellationToken cancellationToken)
    {
        int port = FreePorts.Loopback();
        RedisEndpoint = $"127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}";
        _log($"cluster: starting redis-server on {RedisEndpoint}");
        // Under a small sh watchdog: redis-server cannot watch its parent, and must not outlive this process even when
        // it is killed with SIGKILL (the silos watch it themselves through --parent-pid).
        var redis = _processes.Start("redis", "/bin/sh", ["-c", HostExecutables.WatchdogScript, redisExe, "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            new Dictionary<string, string> { ["LLAMA4_PARENT_PID"] = Environment.ProcessId.ToString(CultureInfo.InvariantCulture) });
        await WaitForPortAsync(redis, port, deadline, cancellationToken);
    }

    /// <summary>Waits until the management grain sees every silo active (or one exits, or the deadline passes).</summary>
    private async Task WaitForSilosToJoinAsync(List<ChildProcess> silos, DateTime deadline, TimeSpan startTimeout, CancellationToken cancellationToken)
    {
        var management = Client.GetGrain<IManagementGrain>(0);
        while (true)
        {
            ThrowIfExited(silos);
            int joined;
            try
            {
                joined = (await management.GetHosts(onlyActive: true)).Count;
            }
            catch (OrleansException) when (DateTime.UtcNow < deadline)
            {
                // The client's gateway is up before the silos have published their grain types to it
                // ("No active nodes are compatible with grain management"): not joined yet.
                joined = 0;
            }
            if (joined >= silos.Count) break;
            if (DateTime.UtcNow > deadline)
                throw new ClusterStartException($"{joined} of {silos.Count} silos joined within {startTimeout.TotalSeconds:F0} s{Tails(silos)}");
            await Task.Delay(250, cancellationToken);
        }
    }

    /// <summary>The last output lines of every silo, for error messages.</summary>
    public string SiloOutput()
    {
        return Tails(_processes.Children.Where(c => c.Name.StartsWith("silo", StringComparison.Ordinal)).ToList());
    }

    private static void ThrowIfExited(IReadOnlyList<ChildProcess> silos)
    {
        var dead = silos.FirstOrDefault(s => s.HasExited);
        if (dead is not null)
            throw new ClusterStartException($"{dead.Name} exited with code {dead.ExitCode}{Tails([dead])}");
    }

    private static string Tails(IReadOnlyList<ChildProcess> processes) =>
        string.Concat(processes.Select(p => $"\n--- {p.Name} (last lines) ---\n{p.Tail(15)}"));

    private static async Task WaitForPortAsync(ChildProcess process, int port, DateTime deadline, CancellationToken cancellationToken)
    {
        if (!await FreePorts.WaitUntilListeningAsync(port, deadline, () => !process.HasExited, cancellationToken))
            throw new ClusterStartException($"{process.Name} did not listen on port {port}{Tails([process])}");
    }

    public void Dispose()
    {
        IHost? client;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            client = _client;
            _client = null;
        }
        if (client is not null)
        {
            try
            {
                // Closing the gateway connections first keeps the silos from logging errors; bounded, best effort.
                client.StopAsync(new CancellationTokenSource(TimeSpan.FromSeconds(3)).Token).Wait(TimeSpan.FromSeconds(4));
            }
            catch (Exception)
            {
                // The processes are killed next regardless.
            }
        }
        _processes.Close(); // silos first, then redis
        client?.Dispose();
        _log("cluster: stopped");
    }

    /// <summary>A host lifetime that leaves Ctrl+C and SIGTERM to the launcher.</summary>
    private sealed class NoSignalLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

/// <summary>The ephemeral cluster did not come up; the message carries the silos' last output.</summary>
internal sealed class ClusterStartException(string message) : Exception(message);

using System.Diagnostics;
using System.Globalization;
using Llama4Cluster.Cli.Chaos.Report;

namespace Llama4Cluster.Cli.Chaos;

/// <summary>
/// Injects one scenario's fault into a <see cref="ChaosCluster"/>: the victim is drawn from the seeded generator; the
/// action runs to its end (a stalled silo continued, a killed gateway serving again, every silo restarted).
/// </summary>
internal sealed class ChaosFaults(ChaosCluster cluster, ChaosStreamClient client, ChaosSettings settings, Random random, Action<string> log)
{
    /// <summary>When the fault hit (<see cref="Stopwatch"/> ticks; the first signal sent); 0 before.</summary>
    public long InjectedAt { get; private set; }

    /// <summary>What was done, for the report.</summary>
    public string Description { get; private set; } = "";

    /// <summary>Why the action stopped before its end; null when it completed.</summary>
    public string? Error { get; set; }

    /// <summary>Silos restarted so far, of <see cref="RestartsTotal"/> (rolling restart).</summary>
    public int RestartsDone { get; private set; }

    public int RestartsTotal => cluster.Silos.Count;

    /// <summary>Runs the fault to its end.</summary>
    public async Task InjectAsync(CancellationToken cancellationToken)
    {
        switch (settings.Scenario)
        {
            case ChaosScenario.KillExpert:
                await KillAsync(Pick(cluster.Silos.Where(s => s.Role == "expert")), cancellationToken);
                break;
            case ChaosScenario.KillAttention:
                await KillAsync(Pick(RankHolders()), cancellationToken);
                break;
            case ChaosScenario.KillRedis:
                await KillAsync(cluster.Redis, cancellationToken);
                break;
            case ChaosScenario.StallExpert:
                await StallAsync(Pick(cluster.Silos.Where(s => s.Role == "expert")), cancellationToken);
                break;
            case ChaosScenario.KillGateway:
                await KillAsync(cluster.Gateway, cancellationToken);
                log("chaos: starting the gateway again on the same port");
                await cluster.StartGatewayAsync(cancellationToken);
                await WaitReadyAsync("the restarted gateway's /ready", cancellationToken);
                Description += $"; a new gateway was ready after {Since(InjectedAt)}";
                break;
            case ChaosScenario.RollingRestart:
                await RollingRestartAsync(cancellationToken);
                break;
            default:
                throw new InvalidOperationException($"no fault for {settings.Scenario}");
        }
    }

    /// <summary>Waits until the gateway's <c>/ready</c> answers 200.</summary>
    public Task WaitReadyAsync(string what, CancellationToken cancellationToken) =>
        cluster.WaitAsync(what, async () => (await client.GetAsync("ready", TimeSpan.FromSeconds(3), cancellationToken))?.Status == 200,
            [cluster.Gateway], settings.StartTimeout, cancellationToken);

    private async Task KillAsync(ClusterProcess victim, CancellationToken cancellationToken)
    {
        Signal(victim, ProcessSignals.Kill);
        Description = $"SIGKILL of {victim.Name} (pid {I(victim.Pid)})";
        if (!await ChaosCluster.WaitExitAsync(victim, TimeSpan.FromSeconds(10), cancellationToken))
            log($"chaos: {victim.Name} (pid {I(victim.Pid)}) has not exited 10 s after SIGKILL");
    }

    private async Task StallAsync(ClusterProcess victim, CancellationToken cancellationToken)
    {
        Signal(victim, ProcessSignals.Stop);
        try
        {
            await Task.Delay(settings.StallDuration, cancellationToken);
        }
        finally
        {
            Signal(victim, ProcessSignals.Continue);
        }
        Description = $"SIGSTOP of {victim.Name} (pid {I(victim.Pid)}), SIGCONT after {Seconds(settings.StallDuration.TotalSeconds)}";
    }

    /// <summary>Every silo in a seeded order: SIGTERM, started again with the same flags, joined, and the gateway ready again
    /// before the next.</summary>
    private async Task RollingRestartAsync(CancellationToken cancellationToken)
    {
        var order = Enumerable.Range(0, cluster.Silos.Count).ToArray();
        random.Shuffle(order);
        Description = "rolling restart (SIGTERM, start again, wait until rejoined and the gateway is ready) of " +
                      string.Join(", ", order.Select(i => cluster.Silos[i].Name));
        foreach (int i in order)
        {
            string name = cluster.Silos[i].Name;
            long start = Stopwatch.GetTimestamp();
            if (InjectedAt == 0) InjectedAt = start;
            log($"chaos: restarting {name} (pid {I(cluster.Silos[i].Pid)})");
            await cluster.RestartSiloAsync(i, cancellationToken);
            await WaitReadyAsync($"/ready after restarting {name}", cancellationToken);
            RestartsDone++;
            log($"chaos: {name} rejoined as pid {I(cluster.Silos[i].Pid)} and the gateway is ready ({Since(start)})");
        }
    }

    /// <summary>Attention silos that hold a rank (their log says so); all attention silos when none says.</summary>
    private List<ClusterProcess> RankHolders()
    {
        var attention = cluster.Silos.Where(s => s.Role == "attention").ToList();
        var holders = attention.Where(s => s.Process.Output.Contains("Attention rank", StringComparison.Ordinal)
                                           && s.Process.Output.Contains("loaded", StringComparison.Ordinal)).ToList();
        return holders.Count > 0 ? holders : attention;
    }

    private ClusterProcess Pick(IEnumerable<ClusterProcess> candidates)
    {
        var list = candidates.ToList();
        if (list.Count == 0) throw new InvalidOperationException($"{settings.Scenario.Name()}: the cluster has no process to inject the fault into");
        return list[random.Next(list.Count)];
    }

    private void Signal(ClusterProcess victim, int signal)
    {
        long now = Stopwatch.GetTimestamp();
        if (!ProcessSignals.Send(victim.Pid, signal))
            log($"chaos: {victim.Name} (pid {I(victim.Pid)}) was already gone for {ProcessSignals.Name(signal)}");
        if (InjectedAt == 0) InjectedAt = now;
        log($"chaos: {ProcessSignals.Name(signal)} -> {victim.Name} (pid {I(victim.Pid)})");
    }

    private static string Since(long start) => Seconds(Stopwatch.GetElapsedTime(start).TotalSeconds);

    private static string Seconds(double s) => s.ToString("0.0", CultureInfo.InvariantCulture) + " s";

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}

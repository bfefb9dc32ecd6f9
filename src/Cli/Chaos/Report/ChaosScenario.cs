namespace Llama4Cluster.Cli.Chaos.Report;

/// <summary>The faults <c>llama4 chaos</c> injects.</summary>
public enum ChaosScenario
{
    /// <summary>SIGKILL of one expert silo process.</summary>
    KillExpert,

    /// <summary>SIGKILL of one attention silo process (one that holds a rank).</summary>
    KillAttention,

    /// <summary>SIGKILL of the gateway process, then a new one on the same port; its in-flight streams are lost by design.</summary>
    KillGateway,

    /// <summary>SIGSTOP of one expert silo process, SIGCONT a few seconds later.</summary>
    StallExpert,

    /// <summary>SIGKILL of redis-server (membership): the running cluster must keep serving.</summary>
    KillRedis,

    /// <summary>Every silo restarted one by one under load (SIGTERM, start again, wait until it has rejoined).</summary>
    RollingRestart,
}

/// <summary>Scenario names as the command line spells them.</summary>
public static class ChaosScenarios
{
    private static readonly (string Name, ChaosScenario Scenario)[] Names =
    [
        ("kill-expert", ChaosScenario.KillExpert),
        ("kill-attention", ChaosScenario.KillAttention),
        ("kill-gateway", ChaosScenario.KillGateway),
        ("stall-expert", ChaosScenario.StallExpert),
        ("kill-redis", ChaosScenario.KillRedis),
        ("rolling-restart", ChaosScenario.RollingRestart),
    ];

    /// <summary><c>kill-expert|kill-attention|…</c>, for usage lines.</summary>
    public static string Choices => string.Join('|', Names.Select(n => n.Name));

    public static bool TryParse(string text, out ChaosScenario scenario)
    {
        foreach (var (name, value) in Names)
        {
            if (name == text)
            {
                scenario = value;
                return true;
            }
        }
        scenario = default;
        return false;
    }

    public static string Name(this ChaosScenario scenario) => Names.First(n => n.Scenario == scenario).Name;
}

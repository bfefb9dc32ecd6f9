namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>
/// One gateway for the tests that share it, started as the one command starts it — no <c>--model</c>, so it creates the
/// tiny demo model in a (temporary) cache directory, and no <c>--redis</c>, so it co-hosts a silo — with fp32 compute for
/// exact comparisons. Ready before the first test runs.
/// </summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public string CacheDirectory { get; } = Path.Combine(Path.GetTempPath(), "l4c-gw-" + Guid.NewGuid().ToString("N")[..12]);

    /// <summary>What the gateway printed while creating the tiny model.</summary>
    public StringWriter Progress { get; } = new();

    public InProcessGateway Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Gateway = await InProcessGateway.StartAsync(["--cache-dir", CacheDirectory], Progress);
        await Gateway.WaitReadyAsync();
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        if (Directory.Exists(CacheDirectory)) Directory.Delete(CacheDirectory, recursive: true);
    }
}

using System.Net;
using System.Text.Json;
using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Silos.Tests.MultiProcess;
using Llama4Cluster.Tests.Shared;

namespace Llama4Cluster.Silos.Tests.Hosting;

/// <summary>
/// <c>--http-port P</c> of the built silo host: <c>/health</c> answers as soon as the process is up, <c>/ready</c> once the silo
/// has started, <c>/metrics</c> the process's OpenTelemetry metrics as Prometheus text. The waits only guard against a hang.
/// </summary>
public sealed class SiloStatusEndpointTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-silo-http-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory)) Directory.Delete(_directory, recursive: true);
    }

    [RedisFact]
    public async Task ASiloProcessServesHealthReadyAndMetricsOnItsHttpPort()
    {
        TinyCheckpointWriter.Write(_directory, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 7 });
        using var redis = await RedisServer.StartAsync();
        int port = FreePorts.Loopback();
        using var silo = SiloProcess.Start([
            "--model", _directory, "--role", "all", "--redis", redis.Endpoint, "--cluster-id", "l4c-http-" + Guid.NewGuid().ToString("N")[..8],
            "--threads", "1", "--shards", "1", "--ranks", "1", "--http-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(10) };

        var health = await WaitForOkAsync(http, "health", silo);
        Assert.Equal("ok", JsonDocument.Parse(health).RootElement.GetProperty("status").GetString());
        var ready = await WaitForOkAsync(http, "ready", silo);
        Assert.Equal("ok", JsonDocument.Parse(ready).RootElement.GetProperty("status").GetString());

        using var metrics = await http.GetAsync("metrics");
        Assert.Equal(HttpStatusCode.OK, metrics.StatusCode);
        Assert.Equal("text/plain", metrics.Content.Headers.ContentType?.MediaType);
        string text = await metrics.Content.ReadAsStringAsync();
        Assert.Contains("\n# TYPE dotnet_gc_collections_total counter\n", "\n" + text);
        Assert.Contains("\n# TYPE orleans_", "\n" + text);
    }

    private static async Task<string> WaitForOkAsync(HttpClient http, string path, SiloProcess silo)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        string last = "(no answer)";
        while (DateTime.UtcNow < deadline)
        {
            Assert.False(silo.HasExited, $"the silo exited:\n{silo.Output}");
            try
            {
                using var response = await http.GetAsync(path);
                last = $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}";
                if (response.StatusCode == HttpStatusCode.OK) return await response.Content.ReadAsStringAsync();
            }
            catch (HttpRequestException e)
            {
                last = e.Message; // not listening yet
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"/{path} did not answer 200; last: {last}\n{silo.Output}");
    }
}

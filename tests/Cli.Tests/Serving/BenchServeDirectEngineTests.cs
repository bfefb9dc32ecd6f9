using System.Globalization;
using System.Reflection;
using System.Text.Json;
using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Tests.Shared;
using Xunit.Abstractions;

namespace Llama4Cluster.Cli.Tests.Serving;

/// <summary>
/// The direct side of the gateway overhead for real: a Redis-membership cluster of one silo process serving a tiny
/// model, described by the fake server's <c>GET /info</c>; <c>bench serve</c> joins it as an Orleans client and times
/// <c>ClusterEngine</c>'s first token. (The fake server stands in for the gateway, so the ratio itself means nothing here.)
/// </summary>
public sealed class BenchServeDirectEngineTests(ITestOutputHelper output)
{
    private static readonly string CliDirectory = Path.GetDirectoryName(typeof(CliRunner).Assembly
        .GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "Llama4Cli").Value!)!;

    [RedisFact]
    public async Task TheEngineBehindInfoIsCalledDirectly()
    {
        string root = Path.Combine(Path.GetTempPath(), "l4c-benchserve-" + Guid.NewGuid().ToString("N"));
        string model = Path.Combine(root, "model");
        var created = CliRunner.Run("create-tiny", "--out", model, "--preset", "tiny-maverick", "--seed", "5");
        Assert.True(created.ExitCode == 0, created.Stderr);
        string clusterId = "l4c-benchserve-" + Guid.NewGuid().ToString("N")[..8];
        using var redis = await RedisServer.StartAsync();
        var silo = ChildProcess.Start("silo", "dotnet", [
            Path.Combine(CliDirectory, "Llama4Cluster.Silos.dll"), "--model", model, "--role", "all", "--redis", redis.Endpoint,
            "--cluster-id", clusterId, "--shards", "1", "--ranks", "1", "--threads", "1", "--dtype", "float32", "--wire-dtype", "fp32",
            "--parent-pid", I(Environment.ProcessId)],
            new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning", ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information" });
        try
        {
            // The host logs "Application started" once the silo is active in the membership table (throws with the output if not).
            await silo.WaitForLineAsync(l => l.Contains("Application started", StringComparison.Ordinal), TimeSpan.FromMinutes(2));
            string info = JsonSerializer.Serialize(new
            {
                model = FakeCompletionServer.Model, model_dir = model, max_model_len = 4096, attention_ranks = 1, shards_per_layer = 1,
                clustering = "redis", redis = redis.Endpoint, cluster_id = clusterId, service_id = "llama4",
            });
            await using var server = await FakeCompletionServer.StartAsync(_ => new FakeCompletionScript(), info);

            var r = CliRunner.Run("bench", "serve", "--url", server.Url.ToString(), "--concurrency", "1", "--requests", "1",
                "--prompt-tokens", "8", "--max-tokens", "3", "--overhead-requests", "3", "--json");
            output.WriteLine(r.Stdout);
            output.WriteLine(r.Stderr);
            Assert.True(r.ExitCode == 0, r.Stderr);
            using var doc = JsonDocument.Parse(r.Stdout);
            Assert.Equal(512, doc.RootElement.GetProperty("vocab_size").GetInt32()); // from the model_dir's config.json
            var overhead = doc.RootElement.GetProperty("gateway_overhead");
            Assert.False(overhead.TryGetProperty("skipped", out var why), why.ToString());
            Assert.Equal(3, overhead.GetProperty("pairs").GetInt32());
            Assert.Equal(3, overhead.GetProperty("max_tokens").GetInt32());
            Assert.True(overhead.GetProperty("ttft_direct_p50_ms").GetDouble() > 0);
            Assert.True(overhead.GetProperty("ttft_gateway_p50_ms").GetDouble() > 0);
            Assert.Equal(1 + 1 + 3, server.Arrivals); // warm-up, the level, one gateway request per pair
        }
        finally
        {
            silo.Dispose(); // before its model directory goes
            Directory.Delete(root, recursive: true);
        }
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);
}

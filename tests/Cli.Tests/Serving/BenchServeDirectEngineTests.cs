using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text;
using System.Text.Json;
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
        int redisPort = FreePort();
        string clusterId = "l4c-benchserve-" + Guid.NewGuid().ToString("N")[..8];
        using var redis = Start("redis-server", ["--port", I(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        using var silo = Start("dotnet", [
            Path.Combine(CliDirectory, "Llama4Cluster.Silos.dll"), "--model", model, "--role", "all", "--redis", $"127.0.0.1:{I(redisPort)}",
            "--cluster-id", clusterId, "--shards", "1", "--ranks", "1", "--threads", "1", "--dtype", "float32", "--wire-dtype", "fp32",
            "--parent-pid", I(Environment.ProcessId)],
            new() { ["DOTNET_gcServer"] = "0", ["Logging__LogLevel__Default"] = "Warning", ["Logging__LogLevel__Microsoft.Hosting.Lifetime"] = "Information" });
        try
        {
            // The host logs "Application started" once the silo is active in the membership table.
            Assert.True(await silo.WaitForLineAsync("Application started", TimeSpan.FromMinutes(2)), $"the silo did not start:\n{silo.Output}");
            string info = JsonSerializer.Serialize(new
            {
                model = FakeCompletionServer.Model, model_dir = model, max_model_len = 4096, attention_ranks = 1, shards_per_layer = 1,
                clustering = "redis", redis = $"127.0.0.1:{I(redisPort)}", cluster_id = clusterId, service_id = "llama4",
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
            silo.Kill();
            redis.Kill();
            Directory.Delete(root, recursive: true);
        }
    }

    private static string I(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static ChildProcess Start(string exe, string[] args, Dictionary<string, string>? environment = null)
    {
        var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (k, v) in environment ?? []) psi.Environment[k] = v;
        return new ChildProcess(Process.Start(psi)!);
    }

    /// <summary>A started process whose output is kept (for waiting on a line, and for failure messages).</summary>
    private sealed class ChildProcess : IDisposable
    {
        private readonly Process _process;
        private readonly StringBuilder _output = new();
        private readonly List<(string Text, TaskCompletionSource Seen)> _waits = [];

        public ChildProcess(Process process)
        {
            _process = process;
            process.OutputDataReceived += (_, e) => Append(e.Data);
            process.ErrorDataReceived += (_, e) => Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
        }

        public string Output
        {
            get
            {
                lock (_output) return _output.ToString();
            }
        }

        public async Task<bool> WaitForLineAsync(string text, TimeSpan timeout)
        {
            var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (_output)
            {
                if (_output.ToString().Contains(text, StringComparison.Ordinal)) return true;
                _waits.Add((text, seen));
            }
            var exited = _process.WaitForExitAsync();
            var first = await Task.WhenAny(seen.Task, exited, Task.Delay(timeout));
            return first == seen.Task;
        }

        public void Kill()
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        public void Dispose()
        {
            Kill();
            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is null) return;
            lock (_output)
            {
                _output.AppendLine(line);
                foreach (var (text, seen) in _waits)
                    if (line.Contains(text, StringComparison.Ordinal)) seen.TrySetResult();
            }
        }
    }
}

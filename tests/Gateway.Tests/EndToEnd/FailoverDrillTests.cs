using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Tests.Hosting;
using Llama4Cluster.Tests.Shared;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// The fault drill of the deployment shape, in CI: a redis-server, two attention silo processes, two expert silo
/// processes with <c>--expert-replicas 2</c> and a gateway process, four greedy streams through the HTTP API. A
/// fault-free round records every stream; then the same streams run while an expert silo is killed with SIGKILL, and
/// again while an attention silo is killed. Every stream of every round must end with exactly the fault-free text and
/// token count (a lost, repeated or changed token shows), and the cluster must serve new requests afterwards.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed partial class FailoverDrillTests(GatewayFixture fixture)
{
    private const int Shards = 2, Ranks = 2, Streams = 4, MaxTokens = 24;

    [RedisFact]
    public async Task KillingAnExpertSiloAndThenAnAttentionSiloLosesAndChangesNoToken()
    {
        string model = TinyModelCache.ModelDirectory(fixture.CacheDirectory);
        string clusterId = "l4c-drill-" + Guid.NewGuid().ToString("N")[..8];
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        using var redis = await RedisServer.StartAsync();
        var processes = new List<ChildProcess>();
        ChildProcess Silo(string name, string role) => ChildProcess.Start(name, "dotnet", [
            GatewayBuild.SiloHost, "--model", model, "--role", role, "--redis", redis.Endpoint, "--cluster-id", clusterId,
            "--shards", I(Shards), "--ranks", I(Ranks), "--expert-replicas", "2", "--threads", "1", "--parent-pid", I(Environment.ProcessId),
        ]);
        try
        {
            foreach (var (name, role) in new[] { ("expert 0", "expert"), ("expert 1", "expert"), ("attention 0", "attention"), ("attention 1", "attention") })
                processes.Add(Silo(name, role));
            var gateway = ChildProcess.Start("gateway", "dotnet", [
                GatewayBuild.GatewayHost, "--redis", redis.Endpoint, "--model", model, "--cluster-id", clusterId,
                "--shards", I(Shards), "--ranks", I(Ranks), "--host", "127.0.0.1", "--port", "0",
            ]);
            processes.Add(gateway);
            string listening = await gateway.WaitForLineAsync(l => ListeningLine().IsMatch(l), TimeSpan.FromSeconds(90));
            using var http = new HttpClient
            {
                BaseAddress = new Uri(ListeningLine().Match(listening).Groups[1].Value.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(3),
            };
            await WaitReadyAsync(http, processes);

            var prompts = Enumerable.Range(0, Streams).Select(i => Enumerable.Range(0, 6 + i).Select(t => 3 + (i * 37 + t * 11) % 200).ToArray()).ToArray();
            var reference = await RunAsync(http, prompts, fault: null);
            Assert.All(reference, r => Assert.Equal(MaxTokens, r.CompletionTokens));

            // The attention victim is a silo that holds a rank (its log says so): killing it must move sequences.
            var holder = processes.Skip(2).Take(2).FirstOrDefault(p => p.Output.Contains("Attention rank", StringComparison.Ordinal))
                ?? throw new Xunit.Sdk.XunitException("no attention silo reported a loaded rank\n" + Logs(processes));
            foreach (var victim in new[] { processes[0], holder })
            {
                var results = await RunAsync(http, prompts, fault: () => Kill(victim));
                Assert.True(victim.HasExited, $"{victim.Name} was killed");
                for (int i = 0; i < Streams; i++)
                    Assert.True(reference[i] == results[i], $"after killing {victim.Name}, stream {i} gave {results[i]} instead of {reference[i]}\n" + Logs(processes));
            }

            // The attention silo's death moved its rank's sequences (re-prefilled elsewhere): the path above really ran.
            string metrics = await http.GetStringAsync("metrics");
            Assert.True(Metric(metrics, "llama4:failovers_total") >= 1, metrics);
            Assert.True(Metric(metrics, "llama4:reprefilled_tokens_total") > 0, metrics);

            // New requests are served by what is left.
            var after = await RunAsync(http, prompts[..1], fault: null);
            Assert.Equal(reference[0], after[0]);
        }
        finally
        {
            processes.Reverse();
            foreach (var p in processes) p.Dispose();
        }
    }

    /// <summary>Runs one stream per prompt at once; <paramref name="fault"/> is injected once the streams together have
    /// received a third of their tokens.</summary>
    private static async Task<CompletionsHttp.Result[]> RunAsync(HttpClient http, int[][] prompts, Action? fault)
    {
        int chunks = 0, threshold = prompts.Length * MaxTokens / 3;
        void OnChunk()
        {
            if (Interlocked.Increment(ref chunks) == threshold) fault?.Invoke();
        }

        return await Task.WhenAll(prompts.Select(p =>
            CompletionsHttp.StreamAsync(http, CompletionsHttp.Body("tiny-scout", p, MaxTokens, stream: true), onChunk: OnChunk)));
    }

    private static double Metric(string text, string name) =>
        text.Split('\n').Where(l => l.StartsWith(name, StringComparison.Ordinal))
            .Select(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture)).Sum();

    private static void Kill(ChildProcess victim)
    {
        using var process = Process.GetProcessById(victim.Id);
        process.Kill(); // SIGKILL
        process.WaitForExit(TimeSpan.FromSeconds(10));
    }

    private static string Logs(IEnumerable<ChildProcess> processes) =>
        string.Join("\n", processes.Select(p => $"--- {p.Name} ---\n{p.Tail(40)}"));

    private static async Task WaitReadyAsync(HttpClient http, IReadOnlyList<ChildProcess> processes)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(150);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var dead = processes.FirstOrDefault(p => p.HasExited);
            if (dead is not null) Assert.Fail($"{dead.Name} exited:\n{dead.Output}");
            using var response = await http.GetAsync("ready");
            last = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK) return;
            await Task.Delay(200);
        }

        Assert.Fail($"/ready stayed 503 ({last}):\n" + Logs(processes));
    }

    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}

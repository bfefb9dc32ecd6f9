using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Tests.Hosting;
using Llama4Cluster.Tests.Shared;
using Xunit.Abstractions;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// The fault drill of the deployment shape, in CI: a redis-server, two attention silo processes, two expert silo
/// processes with <c>--expert-replicas 2</c> and a gateway process, four greedy streams through the HTTP API. A
/// fault-free round records every stream; then the same streams run while an expert silo is killed with SIGKILL, again
/// while an attention silo is killed, and again while redis-server (membership) is killed. Every stream of every round
/// must end with exactly the fault-free text and token count (a lost, repeated or changed token shows), and the cluster
/// must serve new requests afterwards, with Redis gone.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed partial class FailoverDrillTests(GatewayFixture fixture, ITestOutputHelper output)
{
    private const int Streams = 4, MaxTokens = 24;

    /// <summary>With two ranks, the dead rank's sequences move to the live one at once; with one rank (the silo host's and
    /// gateway's defaults, no --ranks or --shards given), they wait until Orleans re-activates the rank on the surviving
    /// attention silo, then are re-prefilled there.</summary>
    [RedisTheory]
    [InlineData(2)]
    [InlineData(1)]
    public async Task KillingAnExpertSiloAndThenAnAttentionSiloLosesAndChangesNoToken(int ranks)
    {
        string model = TinyModelCache.ModelDirectory(fixture.CacheDirectory);
        string clusterId = "l4c-drill-" + Guid.NewGuid().ToString("N")[..8];
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        using var redis = await RedisServer.StartAsync();
        var processes = new List<ChildProcess>();
        ChildProcess Silo(string name, string role) => ChildProcess.Start(name, "dotnet", [
            GatewayBuild.SiloHost, "--model", model, "--role", role, "--redis", redis.Endpoint, "--cluster-id", clusterId,
            "--expert-replicas", "2", "--threads", "1", "--parent-pid", I(Environment.ProcessId), .. RankFlags(ranks),
        ]);
        try
        {
            foreach (var (name, role) in new[] { ("expert 0", "expert"), ("expert 1", "expert"), ("attention 0", "attention"), ("attention 1", "attention") })
                processes.Add(Silo(name, role));
            // Every silo joins before the gateway places the grains: a shard's replicas go to distinct silos only when
            // the silos are there to take them.
            foreach (var silo in processes.ToArray())
                await silo.WaitForLineAsync(l => l.Contains("Orleans Silo started", StringComparison.Ordinal), TimeSpan.FromSeconds(90));
            var gateway = ChildProcess.Start("gateway", "dotnet", [
                GatewayBuild.GatewayHost, "--redis", redis.Endpoint, "--model", model, "--cluster-id", clusterId,
                "--host", "127.0.0.1", "--port", "0", .. RankFlags(ranks),
            ]);
            processes.Add(gateway);
            string listening = await gateway.WaitForLineAsync(l => ListeningLine().IsMatch(l), TimeSpan.FromSeconds(90));
            using var http = new HttpClient
            {
                BaseAddress = new Uri(ListeningLine().Match(listening).Groups[1].Value.TrimEnd('/') + "/"), Timeout = TimeSpan.FromMinutes(3),
            };
            await WaitReadyAsync(http, processes);

            var prompts = Enumerable.Range(0, Streams).Select(i => Enumerable.Range(0, 6 + i).Select(t => 3 + (i * 37 + t * 11) % 200).ToArray()).ToArray();
            var (reference, calm) = await RunAsync(http, prompts, fault: null);
            Assert.All(reference, r => Assert.Equal(MaxTokens, r.CompletionTokens));

            // The attention victim is a silo that holds a rank (its log says so): killing it must move sequences.
            var holder = processes.Skip(2).Take(2).FirstOrDefault(p => p.Output.Contains("Attention rank", StringComparison.Ordinal))
                ?? throw new Xunit.Sdk.XunitException("no attention silo reported a loaded rank\n" + Logs(processes));
            foreach (var victim in new[] { processes[0], holder, redis.Process })
            {
                var (results, stall) = await RunAsync(http, prompts, fault: () => Kill(victim));
                output.WriteLine($"ranks {ranks}: killed {victim.Name}: longest gap between two tokens of a stream {stall.TotalMilliseconds:0} ms (fault-free: {calm.TotalMilliseconds:0} ms)");
                if (Environment.GetEnvironmentVariable("L4C_DRILL_LOGS") == "1") output.WriteLine(Logs(processes) + "\n" + await http.GetStringAsync("metrics"));
                Assert.True(victim.HasExited, $"{victim.Name} was killed");
                for (int i = 0; i < Streams; i++)
                    Assert.True(reference[i] == results[i], $"after killing {victim.Name}, stream {i} gave {results[i]} instead of {reference[i]}\n" + Logs(processes));
            }

            // The attention silo's death moved its rank's sequences (re-prefilled elsewhere): the path above really ran.
            string metrics = await http.GetStringAsync("metrics");
            Assert.True(Metric(metrics, "llama4:failovers_total") >= 1, metrics);
            Assert.True(Metric(metrics, "llama4:reprefilled_tokens_total") > 0, metrics);

            // New requests are served by what is left, without Redis.
            var (after, _) = await RunAsync(http, prompts[..1], fault: null);
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
    /// <returns>The streams' results, and the longest gap between two consecutive chunks of one stream.</returns>
    private static async Task<(CompletionsHttp.Result[] Results, TimeSpan LongestGap)> RunAsync(HttpClient http, int[][] prompts, Action? fault)
    {
        int chunks = 0, threshold = prompts.Length * MaxTokens / 3;
        long longest = 0;
        async Task<CompletionsHttp.Result> One(int[] prompt)
        {
            long last = 0;
            void OnChunk()
            {
                long now = Stopwatch.GetTimestamp();
                if (last != 0) InterlockedMax(ref longest, now - last);
                last = now;
                if (Interlocked.Increment(ref chunks) == threshold) fault?.Invoke();
            }

            return await CompletionsHttp.StreamAsync(http, CompletionsHttp.Body("tiny-scout", prompt, MaxTokens, stream: true), onChunk: OnChunk);
        }

        var results = await Task.WhenAll(prompts.Select(One));
        return (results, TimeSpan.FromSeconds((double)longest / Stopwatch.Frequency));
    }

    private static void InterlockedMax(ref long target, long value)
    {
        long seen;
        while (value > (seen = Interlocked.Read(ref target)) && Interlocked.CompareExchange(ref target, value, seen) != seen)
        {
            // Retry.
        }
    }

    private static string[] RankFlags(int ranks) => ranks == 1 ? [] : ["--ranks", ranks.ToString(CultureInfo.InvariantCulture)];

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

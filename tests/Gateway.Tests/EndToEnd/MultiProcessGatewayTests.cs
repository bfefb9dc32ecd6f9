using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Llama4Cluster.Cluster.Processes;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Tests.Hosting;
using Llama4Cluster.Tests.Shared;
using OpenAI.Chat;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// The deployment shape: a redis-server for membership, two silo processes (<c>dotnet Llama4Cluster.Silos.dll --redis ...</c>)
/// and a gateway process joining them (<c>dotnet Llama4Cluster.Gateway.dll --redis ... --model DIR</c>), driven by the
/// OpenAI client. The silos advertise addresses of their own (127.0.0.2, 127.0.0.3: <c>--advertise</c>), as on two hosts. The gateway starts first and waits for the silos. Greedy replies equal the in-process gateway's (same checkpoint, fp32 compute and wire). Every process
/// is killed at the end (the silos also watch this process through <c>--parent-pid</c>).
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed partial class MultiProcessGatewayTests(GatewayFixture fixture)
{
    private const int Shards = 2, Ranks = 1;

    [RedisFact]
    public async Task TwoSiloProcessesAndAGatewayProcessServeTheOpenAiClient()
    {
        string model = TinyModelCache.ModelDirectory(fixture.CacheDirectory);
        string clusterId = "l4c-gw-" + Guid.NewGuid().ToString("N")[..8];
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        using var redis = await RedisServer.StartAsync();
        var processes = new List<ChildProcess>();
        try
        {
            var gateway = ChildProcess.Start("gateway", "dotnet", [
                GatewayBuild.GatewayHost, "--redis", redis.Endpoint, "--model", model, "--cluster-id", clusterId,
                "--shards", I(Shards), "--ranks", I(Ranks), "--host", "127.0.0.1", "--port", "0",
            ]);
            processes.Add(gateway);
            string listening = await gateway.WaitForLineAsync(l => ListeningLine().IsMatch(l), TimeSpan.FromSeconds(60));
            var root = new Uri(ListeningLine().Match(listening).Groups[1].Value.TrimEnd('/') + "/");
            using var http = new HttpClient { BaseAddress = root, Timeout = TimeSpan.FromMinutes(2) };

            // The gateway came up before any silo: alive, not ready, and it keeps waiting for the cluster.
            using (var health = await http.GetAsync("health")) Assert.Equal(HttpStatusCode.OK, health.StatusCode);
            using (var notReady = await http.GetAsync("ready")) Assert.Equal(HttpStatusCode.ServiceUnavailable, notReady.StatusCode);
            for (int i = 0; i < 2; i++)
            {
                processes.Add(ChildProcess.Start($"silo {i}", "dotnet", [
                    GatewayBuild.SiloHost, "--model", model, "--role", "all", "--redis", redis.Endpoint, "--cluster-id", clusterId,
                    "--dtype", "float32", "--wire-dtype", "fp32", "--shards", I(Shards), "--ranks", I(Ranks), "--threads", "1",
                    "--parent-pid", I(Environment.ProcessId), .. SiloAddress(i),
                ]));
            }

            await WaitReadyAsync(http, processes);
            var info = JsonDocument.Parse(await http.GetStringAsync("info")).RootElement;
            Assert.Equal(("redis", redis.Endpoint, clusterId), (info.GetProperty("clustering").GetString(), info.GetProperty("redis").GetString(), info.GetProperty("cluster_id").GetString()));

            var messages = new OpenAI.Chat.ChatMessage[] { new SystemChatMessage(OpenAiClientTests.System), new UserChatMessage(OpenAiClientTests.User) };
            var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6 };
            ChatCompletion reference = await OpenAiClients.Chat(fixture.Gateway.BaseAddress, "tiny-scout").CompleteChatAsync(messages, options);
            var client = OpenAiClients.Chat(root, "tiny-scout");
            ChatCompletion completion = await client.CompleteChatAsync(messages, options);
            Assert.Equal(reference.Content[0].Text, completion.Content[0].Text);
            Assert.Equal((ChatFinishReason.Length, 6, reference.Usage.InputTokenCount),
                (completion.FinishReason, completion.Usage.OutputTokenCount, completion.Usage.InputTokenCount));

            var streamed = new StringBuilder();
            await foreach (var update in client.CompleteChatStreamingAsync(messages, options))
                foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            Assert.Equal(reference.Content[0].Text, streamed.ToString());

            // Client mode never loads libtorch: tokenizer, config and sampling come from the torch-free libraries, and the
            // co-hosting code (the only gateway code that touches Silos/Kernels) is never compiled.
            string[] torch = File.ReadLines($"/proc/{gateway.Id}/maps").Where(l => l.Contains("libtorch", StringComparison.OrdinalIgnoreCase)).ToArray();
            Assert.True(torch.Length == 0, $"the --redis gateway mapped libtorch:\n{string.Join('\n', torch.Take(5))}");
        }
        finally
        {
            // The gateway first (it is a client of the silos), then the silos; redis when its using ends.
            processes.Reverse();
            foreach (var p in processes) p.Dispose();
        }
    }

    /// <summary>Each silo on an address of its own, standing for its own host, so the gateway's client reaches them by the
    /// addresses in membership only: 127.0.0.2 (bound there), and 127.0.0.3 advertised while bound on every interface.</summary>
    private static string[] SiloAddress(int silo) => silo == 0
        ? ["--advertise", LoopbackHosts.Address(0)]
        : ["--advertise", LoopbackHosts.Address(silo), "--listen", "0.0.0.0"];

    private static async Task WaitReadyAsync(HttpClient http, IReadOnlyList<ChildProcess> processes)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(120);
        string last = "";
        while (DateTime.UtcNow < deadline)
        {
            var dead = processes.FirstOrDefault(p => p.HasExited);
            if (dead is not null) Assert.Fail($"{dead.Name} exited:\n{dead.Output}");
            using var response = await http.GetAsync("ready");
            last = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == HttpStatusCode.OK) return;
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            await Task.Delay(200);
        }
        Assert.Fail($"/ready stayed 503 ({last}):\n" + string.Join("\n", processes.Select(p => $"--- {p.Name} ---\n{p.Output}")));
    }

    /// <summary>Kestrel's line, printed as soon as it listens (the gateway's own "Started" line waits for the cluster).</summary>
    [GeneratedRegex(@"Now listening on: (http://\S+)")]
    private static partial Regex ListeningLine();
}

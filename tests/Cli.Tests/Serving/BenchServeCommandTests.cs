using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Xunit.Abstractions;

namespace Llama4Cluster.Cli.Tests.Serving;

/// <summary><c>llama4 bench serve</c> as a process: its JSON and table against the fake server, bad arguments, an unreachable URL.</summary>
public sealed class BenchServeCommandTests(ITestOutputHelper output)
{
    private static readonly FakeCompletionScript Script = new() { Texts = ["a", "b", "c", "d"], CompletionTokens = 5 };

    private static string Line(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{text}");
        return lines[0];
    }

    [Fact]
    public async Task JsonReportsEveryLevelExactly()
    {
        await using var server = await FakeCompletionServer.StartAsync(i => Script with { Status = i == 5 ? 503 : 200 });
        var r = CliRunner.Run("bench", "serve", "--url", server.Url.ToString(), "--concurrency", "1,4", "--requests", "3",
            "--prompt-tokens", "16", "--max-tokens", "5", "--seed", "9", "--json");
        output.WriteLine(r.Stdout);
        output.WriteLine(r.Stderr);
        Assert.True(r.ExitCode == 0, r.Stderr);

        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.Equal(FakeCompletionServer.Model, root.GetProperty("model").GetString());
        Assert.Equal(256, root.GetProperty("vocab_size").GetInt32()); // no /info: the safe bound
        var levels = root.GetProperty("levels").EnumerateArray().ToArray();
        Assert.Equal([1, 4], levels.Select(l => l.GetProperty("concurrency").GetInt32()));
        // --requests 3 at concurrency 4 still sends 4 (at least C).
        Assert.Equal([3, 4], levels.Select(l => l.GetProperty("requests").GetInt32()));
        // Arrival 0 is the warm-up, 1-3 the first level, 4-7 the second: arrival 5 failed.
        Assert.Equal([3, 3], levels.Select(l => l.GetProperty("ok").GetInt32()));
        Assert.Equal([0, 1], levels.Select(l => l.GetProperty("failed").GetInt32()));
        Assert.Equal([15, 15], levels.Select(l => l.GetProperty("output_tokens").GetInt64()));
        Assert.Equal([48, 48], levels.Select(l => l.GetProperty("prompt_tokens").GetInt64()));
        Assert.Equal("HTTP 503: scripted failure of request 5", levels[1].GetProperty("errors")[0].GetProperty("message").GetString());
        foreach (var l in levels)
        {
            Assert.True(l.GetProperty("output_tokens_per_s").GetDouble() > 0);
            foreach (var metric in new[] { "ttft_ms", "itl_ms", "tpot_ms", "e2e_ms" })
                Assert.True(l.GetProperty(metric).GetProperty("p50").GetDouble() >= 0, metric);
        }
        var gain = root.GetProperty("batching_gain");
        Assert.Equal(4, gain.GetProperty("high_concurrency").GetInt32());
        Assert.True(gain.GetProperty("ratio").GetDouble() > 0);
        Assert.Contains("/info", root.GetProperty("gateway_overhead").GetProperty("skipped").GetString());

        Assert.Equal(1 + 3 + 4, server.Arrivals);
        var ids = server.Bodies.Values.SelectMany(b => b.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32())).ToArray();
        Assert.Equal(8 * 16, ids.Length);
        Assert.All(ids, id => Assert.InRange(id, 0, 255));
    }

    [Fact]
    public async Task TheTableNamesTheFiguresAndTheSkippedOverhead()
    {
        // An /info without a cluster endpoint: the vocabulary comes from it, the overhead line says what is missing.
        const string info = """{"model": "fake-model", "max_model_len": 4096, "vocab_size": 100, "clustering": "localhost", "attention_ranks": 1, "shards_per_layer": 1}""";
        await using var server = await FakeCompletionServer.StartAsync(_ => Script, info);
        var r = CliRunner.Run("bench", "serve", "--url", server.Url + "v1", "--concurrency", "1,2", "--prompt-tokens", "8", "--max-tokens", "4");
        output.WriteLine(r.Stdout);
        output.WriteLine(r.Stderr);
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("llama4 bench serve", r.Stdout);
        Assert.Contains("output tok/s", r.Stdout);
        Assert.Contains("batching gain: output tok/s at concurrency 2 ÷ at 1 = ", r.Stdout);
        Assert.Contains("gateway TTFT overhead: skipped (the engine cannot be called directly: GET /info names no model_dir)", r.Stdout);
        Assert.All(server.Bodies.Values.SelectMany(b => b.GetProperty("prompt").EnumerateArray()), e => Assert.InRange(e.GetInt32(), 0, 99));
        Assert.Equal(1 + 2 + 4, server.Arrivals); // default N = 2 × C
    }

    [Fact]
    public async Task APromptBeyondTheContextIsABadArgument()
    {
        await using var server = await FakeCompletionServer.StartAsync(_ => Script);
        var r = CliRunner.Run("bench", "serve", "--url", server.Url.ToString(), "--prompt-tokens", "4000", "--max-tokens", "200");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("exceed the model's context of 4096 tokens", Line(r.Stderr));
        Assert.Equal(0, server.Arrivals);
    }

    [Theory]
    [InlineData("--concurrency", "1")]
    [InlineData("--url", "localhost:8000")]
    [InlineData("--url", "http://127.0.0.1:9/", "--concurrency", "0")]
    [InlineData("--url", "http://127.0.0.1:9/", "--concurrency", "1,x")]
    [InlineData("--url", "http://127.0.0.1:9/", "--concurrency", "8,8")]
    [InlineData("--url", "http://127.0.0.1:9/", "--requests", "0")]
    [InlineData("--url", "http://127.0.0.1:9/", "--max-tokens", "-1")]
    [InlineData("--url", "http://127.0.0.1:9/", "--timeout", "0")]
    [InlineData("--url", "http://127.0.0.1:9/", "--bogus", "1")]
    [InlineData("--url", "http://127.0.0.1:9/", "--model", "")]
    public void BadArgumentsExitTwoWithOneLine(params string[] args)
    {
        var r = CliRunner.Run(["bench", "serve", .. args]);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("llama4: error: ", Line(r.Stderr));
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void AnUnreachableUrlExitsOneWithOneLine()
    {
        // A port that was free a moment ago: connection refused.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var r = CliRunner.Run("bench", "serve", "--url", $"http://127.0.0.1:{port}", "--concurrency", "1");
        Assert.Equal(1, r.ExitCode);
        string line = Line(r.Stderr);
        Assert.StartsWith($"llama4: error: cannot reach http://127.0.0.1:{port}/", line);
        Assert.Equal("", r.Stdout);
    }
}

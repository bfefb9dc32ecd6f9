using System.Diagnostics;
using Llama4Cluster.Cli.Serving;

namespace Llama4Cluster.Cli.Tests.Serving;

/// <summary>The HTTP load generator against a scripted fake OpenAI server: exact counts, usage, concurrency and failures.</summary>
public sealed class BenchServeLoadGeneratorTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private static IReadOnlyList<int>[] Prompts(int count, int length, int seed = 1)
    {
        var source = new RandomPromptSource(512, seed);
        return Enumerable.Range(0, count).Select(_ => (IReadOnlyList<int>)source.Next(length)).ToArray();
    }

    [Fact]
    public async Task CountsUsageAndConcurrencyAreExact()
    {
        // 4 token events, 6 tokens (one event bundles three); events split across writes; a finish-only event that is no token.
        var script = new FakeCompletionScript { Texts = ["He", "llo", "", " world"], CompletionTokens = 6, SplitEvents = true, TokenDelayMs = 2 };
        await using var server = await FakeCompletionServer.StartAsync(_ => script, holdUntilInFlight: 4);
        using var client = new CompletionStreamClient(server.Url, apiKey: "sk-test", Timeout);
        var prompts = Prompts(10, 24);

        var level = await ServeLoadGenerator.RunLevelAsync(client, FakeCompletionServer.Model, 4, prompts, maxTokens: 6);

        Assert.Equal(10, server.Arrivals);
        Assert.Equal(4, server.MaxInFlight); // held until 4 were in flight, never more
        Assert.Equal(10, level.Requests.Count);
        Assert.Equal(10, level.Succeeded);
        Assert.Equal(0, level.Failed);
        Assert.Equal(60, level.OutputTokens);
        Assert.Equal(240, level.PromptTokens);
        Assert.Equal(0, level.WithoutUsage);
        Assert.Equal(30, level.ItlSeconds.Count); // three gaps between four token events, per request
        Assert.All(level.Requests, r =>
        {
            Assert.Equal(4, r.TokenEvents);
            Assert.Equal(6, r.OutputTokens);
            Assert.Equal(24, r.PromptTokens);
            Assert.Equal("length", r.FinishReason);
            Assert.InRange(r.TtftSeconds, double.Epsilon, r.E2eSeconds);
            Assert.All(r.ItlSeconds, g => Assert.True(g >= 0));
            Assert.Equal(r.E2eSeconds - r.TtftSeconds, r.ItlSeconds.Sum(), 9);
        });
        Assert.Equal(level.OutputTokens / level.DurationSeconds, level.OutputTokensPerSecond, 9);

        // What was sent: the prompts as token ids, greedy, ignore_eos, streaming with usage.
        var sent = server.Bodies.Values.Select(b => b.GetProperty("prompt").EnumerateArray().Select(e => e.GetInt32()).ToArray()).ToList();
        Assert.All(prompts, p => Assert.Contains(sent, s => s.SequenceEqual(p)));
        Assert.All(server.Bodies.Values, b =>
        {
            Assert.Equal(FakeCompletionServer.Model, b.GetProperty("model").GetString());
            Assert.Equal(6, b.GetProperty("max_tokens").GetInt32());
            Assert.Equal(0, b.GetProperty("temperature").GetDouble());
            Assert.True(b.GetProperty("ignore_eos").GetBoolean());
            Assert.True(b.GetProperty("stream").GetBoolean());
            Assert.True(b.GetProperty("stream_options").GetProperty("include_usage").GetBoolean());
        });
    }

    [Fact]
    public async Task FailedRequestsAreCountedWithTheirReason()
    {
        var ok = new FakeCompletionScript();
        var scripts = new Dictionary<int, FakeCompletionScript>
        {
            [1] = ok with { Status = 500 },
            [3] = ok with { SendDone = false },
            [4] = ok with { ErrorEvent = "the engine failed" },
            [6] = ok with { Texts = [], SendFinishEvent = false },
            [7] = ok with { Status = 429 },
        };
        await using var server = await FakeCompletionServer.StartAsync(i => scripts.GetValueOrDefault(i, ok));
        using var client = new CompletionStreamClient(server.Url, null, Timeout);

        // Concurrency 1: arrival order is request order.
        var level = await ServeLoadGenerator.RunLevelAsync(client, FakeCompletionServer.Model, 1, Prompts(9, 8), maxTokens: 3);

        Assert.Equal(9, server.Arrivals);
        Assert.Equal(4, level.Succeeded);
        Assert.Equal(5, level.Failed);
        Assert.Equal(12, level.OutputTokens);
        Assert.Equal([true, false, true, false, false, true, false, false, true], level.Requests.Select(r => r.Ok));
        Assert.Equal("HTTP 500: scripted failure of request 1", level.Requests[1].Error);
        Assert.Equal("the stream ended without data: [DONE]", level.Requests[3].Error);
        Assert.Equal("error event: the engine failed", level.Requests[4].Error);
        Assert.Equal("the stream carried no token", level.Requests[6].Error);
        Assert.Equal("HTTP 429: scripted failure of request 7", level.Requests[7].Error);
        Assert.Equal(5, level.Errors.Sum(e => e.Count));
    }

    [Fact]
    public async Task WithoutUsageTheTokenEventsAreCounted()
    {
        await using var server = await FakeCompletionServer.StartAsync(_ => new FakeCompletionScript { Texts = ["a", "b", "c", "d", "e"], SendUsage = false });
        using var client = new CompletionStreamClient(server.Url, null, Timeout);
        var level = await ServeLoadGenerator.RunLevelAsync(client, FakeCompletionServer.Model, 2, Prompts(3, 4), maxTokens: 5);
        Assert.Equal(3, level.Succeeded);
        Assert.Equal(15, level.OutputTokens);
        Assert.Equal(3, level.WithoutUsage);
        Assert.All(level.Requests, r => Assert.Null(r.PromptTokens));
    }

    [Fact]
    public async Task AStalledStreamTimesOutAsAFailure()
    {
        await using var server = await FakeCompletionServer.StartAsync(i => new FakeCompletionScript { Stall = i == 0 });
        using var client = new CompletionStreamClient(server.Url, null, TimeSpan.FromSeconds(0.5));
        var level = await ServeLoadGenerator.RunLevelAsync(client, FakeCompletionServer.Model, 1, Prompts(2, 4), maxTokens: 3);
        Assert.False(level.Requests[0].Ok);
        Assert.Equal("timed out after 0.5 s", level.Requests[0].Error);
        Assert.True(level.Requests[1].Ok);
    }

    [Fact]
    public async Task TtftRunsToTheFirstTokenEventNotToTheHeadersOrKeepAlives()
    {
        // The server sends headers and a keep-alive comment at once, then the first token after a delay. The client's
        // first-token time can only be after the server started writing that token: a causal bound, not a timed one.
        await using var server = await FakeCompletionServer.StartAsync(_ => new FakeCompletionScript { FirstTokenDelayMs = 40 });
        using var client = new CompletionStreamClient(server.Url, null, Timeout);
        var level = await ServeLoadGenerator.RunLevelAsync(client, FakeCompletionServer.Model, 1, Prompts(3, 4), maxTokens: 3);
        for (int i = 0; i < 3; i++)
        {
            var r = level.Requests[i];
            Assert.True(r.Ok, r.Error);
            long firstToken = r.StartTimestamp + (long)Math.Ceiling(r.TtftSeconds * Stopwatch.Frequency);
            Assert.True(firstToken >= server.FirstTokenWrites[i], $"request {i}: TTFT ended before the server wrote the first token");
        }
    }

    [Fact]
    public async Task OverheadPairsAlternateOneAtATimeWithTheGatewayIdle()
    {
        await using var server = await FakeCompletionServer.StartAsync(_ => new FakeCompletionScript());
        using var client = new CompletionStreamClient(server.Url, null, Timeout);
        var probe = new RecordingProbe(server, [0.010, 0.030, 0.020, 0.040, 0.050]);

        var result = await GatewayOverheadBenchmark.RunAsync(client, FakeCompletionServer.Model, probe, new RandomPromptSource(512, 3), 12, pairs: 4, maxTokens: 2);

        Assert.True(result.Measured);
        Assert.Equal(4, server.Arrivals);
        Assert.Equal(5, probe.Calls.Count); // one untimed warm-up, then one per pair
        Assert.All(probe.Calls, c => Assert.Equal(0, c.GatewayInFlight));
        // Pair order alternates: gateway first, then engine first. Arrivals seen by the probe: 0 (warm-up), 1, 1, 3, 3.
        Assert.Equal([0, 1, 1, 3, 3], probe.Calls.Select(c => c.GatewayArrivals));
        Assert.All(probe.Calls, c => Assert.Equal(12, c.PromptLength));
        Assert.All(probe.Calls, c => Assert.Equal(2, c.MaxTokens));
        Assert.Equal([0.030, 0.020, 0.040, 0.050], result.DirectTtftSeconds);
        Assert.Equal(0.035, result.DirectP50Seconds, 12);
        Assert.Equal(4, result.GatewayTtftSeconds.Count);
        Assert.Equal(0, result.GatewayFailures);
        Assert.Equal(result.GatewayP50Seconds / 0.035, result.Ratio, 12);
        Assert.Equal(result.GatewayP50Seconds - 0.035, result.DifferenceSeconds, 12);
        Assert.Equal(2, result.MaxTokens);
    }

    private sealed class RecordingProbe(FakeCompletionServer server, double[] seconds) : IFirstTokenProbe
    {
        public List<(int GatewayInFlight, int GatewayArrivals, int PromptLength, int MaxTokens)> Calls { get; } = [];

        public Task<double> FirstTokenSecondsAsync(IReadOnlyList<int> prompt, int maxTokens, CancellationToken cancellationToken)
        {
            Calls.Add((server.InFlight, server.Arrivals, prompt.Count, maxTokens));
            return Task.FromResult(seconds[Calls.Count - 1]);
        }
    }
}

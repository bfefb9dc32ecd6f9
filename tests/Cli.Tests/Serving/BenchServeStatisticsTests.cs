using System.Text;
using Llama4Cluster.Cli.Serving;

namespace Llama4Cluster.Cli.Tests.Serving;

/// <summary>The statistics of <c>bench serve</c> on known inputs: numpy's percentiles, the per-level aggregates, the SSE framing.</summary>
public sealed class BenchServeStatisticsTests
{
    [Theory]
    // numpy.percentile([15, 20, 35, 40, 50], p) with the default (linear) method.
    [InlineData(0, 15)]
    [InlineData(40, 29)]
    [InlineData(50, 35)]
    [InlineData(99, 49.6)]
    [InlineData(100, 50)]
    public void PercentilesInterpolateLikeNumpy(double percent, double expected)
    {
        Assert.Equal(expected, LatencyStatistics.Percentile([40, 15, 50, 35, 20], percent), 9);
    }

    [Fact]
    public void PercentilesOfEdgeCases()
    {
        Assert.Equal(2.5, LatencyStatistics.Median([4, 1, 3, 2]), 12);
        Assert.Equal(99.01, LatencyStatistics.Percentile(Enumerable.Range(1, 100).Select(i => (double)i), 99), 9);
        Assert.Equal(7, LatencyStatistics.Percentile([7], 99));
        Assert.True(double.IsNaN(LatencyStatistics.Percentile([], 50)));
        Assert.True(double.IsNaN(LatencyStatistics.Mean([])));
        Assert.Equal(2.5, LatencyStatistics.Mean([1, 2, 3, 4]), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyStatistics.Percentile([1], 100.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyStatistics.Percentile([1], double.NaN));
    }

    [Fact]
    public void LevelAggregatesCountSuccessfulRequestsOnly()
    {
        CompletionMeasurement Ok(double ttft, double e2e, int tokens, params double[] itl) =>
            new() { Ok = true, TtftSeconds = ttft, E2eSeconds = e2e, OutputTokens = tokens, PromptTokens = 16, ItlSeconds = itl, TokenEvents = itl.Length + 1, UsageReported = true };
        var level = new ServeLevelResult(2,
        [
            Ok(0.100, 0.400, 4, 0.1, 0.1, 0.1),
            Ok(0.300, 0.500, 3, 0.05, 0.15),
            new CompletionMeasurement { Ok = false, Error = "HTTP 500: boom", OutputTokens = 99, TtftSeconds = 9 },
            new CompletionMeasurement { Ok = false, Error = "HTTP 500: boom" },
            new CompletionMeasurement { Ok = false, Error = "timed out after 1 s" },
        ], durationSeconds: 2.0);

        Assert.Equal(2, level.Succeeded);
        Assert.Equal(3, level.Failed);
        Assert.Equal(7, level.OutputTokens);
        Assert.Equal(32, level.PromptTokens);
        Assert.Equal(3.5, level.OutputTokensPerSecond, 12);
        Assert.Equal([0.100, 0.300], level.TtftSeconds);
        Assert.Equal(0.200, LatencyStatistics.Median(level.TtftSeconds), 12);
        Assert.Equal([0.1, 0.1, 0.1, 0.05, 0.15], level.ItlSeconds);
        // TPOT = (E2E - TTFT) / (tokens - 1): 0.3 / 3 and 0.2 / 2.
        Assert.Equal(2, level.TpotSeconds.Count);
        Assert.All(level.TpotSeconds, t => Assert.Equal(0.1, t, 12));
        Assert.Equal([0.400, 0.500], level.E2eSeconds);
        Assert.Equal([("HTTP 500: boom", 2), ("timed out after 1 s", 1)], level.Errors);
        Assert.Equal(0, level.WithoutUsage);
    }

    [Fact]
    public void TpotNeedsTwoTokens()
    {
        Assert.Null(new CompletionMeasurement { Ok = true, TtftSeconds = 0.1, E2eSeconds = 0.1, OutputTokens = 1 }.TpotSeconds);
        Assert.Equal(0.05, new CompletionMeasurement { Ok = true, TtftSeconds = 0.1, E2eSeconds = 0.2, OutputTokens = 3 }.TpotSeconds!.Value, 12);
    }

    [Fact]
    public async Task ServerSentEventsJoinDataLinesAndSkipComments()
    {
        const string wire = ": keep-alive\r\n\r\nevent: message\ndata: {\"a\":\ndata: 1}\nid: 7\n\n\n\ndata:[DONE]\n\ndata: tail";
        using var reader = new ServerSentEventReader(new MemoryStream(Encoding.UTF8.GetBytes(wire)));
        Assert.Equal("{\"a\":\n1}", await reader.ReadEventAsync(default));
        Assert.Equal("[DONE]", await reader.ReadEventAsync(default));
        Assert.Equal("tail", await reader.ReadEventAsync(default));
        Assert.Null(await reader.ReadEventAsync(default));
    }

    [Fact]
    public void SeededPromptsRepeatAndStayBelowTheVocabulary()
    {
        var a = new RandomPromptSource(300, seed: 11);
        var b = new RandomPromptSource(300, seed: 11);
        var first = Enumerable.Range(0, 50).Select(_ => a.Next(64)).ToArray();
        Assert.All(first, p => Assert.Equal(64, p.Length));
        Assert.All(first.SelectMany(p => p), t => Assert.InRange(t, 0, 299));
        Assert.All(first, p => Assert.Equal(p, b.Next(64)));
        Assert.NotEqual(first[0], new RandomPromptSource(300, seed: 12).Next(64));
    }

    [Fact]
    public void TheImagePatchTokenIsNeverDrawn()
    {
        // 8 ids, one of them the patch token: 400 draws would hit it ~50 times if it were not excluded.
        var source = new RandomPromptSource(8, seed: 3, excluded: 5);
        var ids = Enumerable.Range(0, 10).SelectMany(_ => source.Next(40)).ToArray();
        Assert.DoesNotContain(5, ids);
        Assert.Equal(7, ids.Distinct().Count());
        Assert.Contains(5, new RandomPromptSource(8, seed: 3).Next(400));
    }

    [Theory]
    [InlineData("http://127.0.0.1:8000", "http://127.0.0.1:8000/")]
    [InlineData("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000/")]
    [InlineData("https://gw.example:443/llm/v1/", "https://gw.example/llm/")]
    public void BaseUrlsAreServerRoots(string text, string expected)
    {
        Assert.True(CompletionStreamClient.TryParseBaseUrl(text, out var url));
        Assert.Equal(expected, url.ToString());
    }

    [Theory]
    [InlineData("localhost:8000")]
    [InlineData("ftp://127.0.0.1/")]
    [InlineData("http://127.0.0.1:8000/?x=1")]
    [InlineData("not a url")]
    public void BaseUrlsThatAreNotHttpRootsAreRefused(string text) =>
        Assert.False(CompletionStreamClient.TryParseBaseUrl(text, out _));
}

using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;
using Llama4Cluster.Gateway.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// Continuous batching changes nothing a sequence produces: 64 greedy streams sent at once (token-id prompts of different
/// lengths, so prefills and decodes mix in the same steps) each get exactly the completion the same prompt gets alone.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class BatchingInvarianceTests(GatewayFixture fixture)
{
    private const int Streams = 64, MaxTokens = 10;

    [Fact]
    public Task SixtyFourConcurrentGreedyStreamsEachMatchTheirPromptAlone() => EachStreamMatchesItsPromptAlone(fixture.Gateway);

    /// <summary>64 greedy streams alone, then all at once; every completion (tokens and finish) must be the same.</summary>
    internal static async Task EachStreamMatchesItsPromptAlone(InProcessGateway gateway)
    {
        var model = gateway.App.Services.GetRequiredService<ServedModel>();
        var scheduler = gateway.App.Services.GetRequiredService<IGenerationScheduler>();
        var prompts = Enumerable.Range(0, Streams)
            .Select(i => model.Tokenizer.Encode($"Request {i}: {string.Concat(Enumerable.Repeat("tell me more about the sea ", 1 + i % 7))}"))
            .ToArray();

        var alone = new CompletionsHttp.Result[Streams];
        for (int i = 0; i < Streams; i++)
            alone[i] = await CompletionsHttp.StreamAsync(gateway.Http, CompletionsHttp.Body(model.Id, prompts[i], MaxTokens, stream: true));

        int mostRunning = 0;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                mostRunning = Math.Max(mostRunning, scheduler.Snapshot().Running);
                await Task.Delay(2);
            }
        });
        using var start = new SemaphoreSlim(0);
        var together = Enumerable.Range(0, Streams).Select(async i =>
        {
            await start.WaitAsync();
            return await CompletionsHttp.StreamAsync(gateway.Http, CompletionsHttp.Body(model.Id, prompts[i], MaxTokens, stream: true));
        }).ToArray();
        start.Release(Streams);
        var results = await Task.WhenAll(together);
        await sampling.CancelAsync();
        await sampler;

        Assert.True(mostRunning > 1, $"at most {mostRunning} sequence(s) ran at once: the streams were not batched");
        for (int i = 0; i < Streams; i++)
        {
            Assert.Equal((MaxTokens, "length"), (alone[i].CompletionTokens, alone[i].FinishReason));
            Assert.True(alone[i] == results[i], $"stream {i}: alone {alone[i]}, batched {results[i]}");
        }
    }
}

/// <summary>
/// The same in bf16 with batch-invariant kernels (<c>--dtype bfloat16 --batch-invariant true</c>): without the flag, bf16
/// changes some streams' tokens between alone and batched (docs/DESIGN.md "Batch-invariant bf16").
/// </summary>
public sealed class Bf16BatchInvariantGatewayTests : IAsyncLifetime
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "l4c-gw-inv-" + Guid.NewGuid().ToString("N")[..12]);
    private InProcessGateway _gateway = null!;

    public async Task InitializeAsync()
    {
        _gateway = await InProcessGateway.StartAsync(["--cache-dir", _cache, "--dtype", "bfloat16", "--batch-invariant", "true"], TextWriter.Null);
        await _gateway.WaitReadyAsync();
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }

    [Fact]
    public Task SixtyFourConcurrentGreedyStreamsEachMatchTheirPromptAloneInBf16() =>
        BatchingInvarianceTests.EachStreamMatchesItsPromptAlone(_gateway);
}

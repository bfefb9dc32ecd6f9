using System.Net.Http.Json;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;
using Llama4Cluster.Gateway.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>A client that disconnects from its stream frees its place in the running batch for the next request.</summary>
[Collection(GatewayCollection.Name)]
public sealed class CancellationTests(GatewayFixture fixture)
{
    private const int LongStream = 200;

    [Fact]
    public async Task ADisconnectedStreamFreesItsSequenceForTheNextRequest()
    {
        // One running sequence at most: the second request can only run once the first one's sequence is gone.
        await using var gateway = await InProcessGateway.StartAsync(
            ["--model", TinyModelCache.ModelDirectory(fixture.CacheDirectory), "--dtype", "fp32", "--max-num-seqs", "1"]);
        await gateway.WaitReadyAsync();
        var model = gateway.App.Services.GetRequiredService<ServedModel>();
        var scheduler = gateway.App.Services.GetRequiredService<IGenerationScheduler>();
        var prompt = model.Tokenizer.Encode("Tell me a long story.");

        // No draining of the unread response on dispose: disposing it closes the connection, as a client that goes away.
        using (var leaving = new HttpClient(new SocketsHttpHandler { MaxResponseDrainSize = 0 }) { BaseAddress = gateway.BaseAddress })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "v1/completions")
            {
                Content = JsonContent.Create(CompletionsHttp.Body(model.Id, prompt, LongStream, stream: true)),
            };
            using var response = await leaving.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
            // Wait for the first token: the sequence is running.
            while (await reader.ReadLineAsync() is { } line && !line.StartsWith("data: {", StringComparison.Ordinal))
            {
            }
        }

        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var next = await CompletionsHttp.CompleteAsync(gateway.Http, CompletionsHttp.Body(model.Id, prompt, 4, stream: false), bounded.Token);
        Assert.Equal((4, "length"), (next.CompletionTokens, next.FinishReason));

        var snapshot = scheduler.Snapshot();
        Assert.Equal((0, 0), (snapshot.Running, snapshot.Waiting));
        // Had the first stream run to its end, the second request would have waited for its prefill and 200 decode steps.
        Assert.True(snapshot.Steps < LongStream, $"{snapshot.Steps} engine steps: the disconnected stream kept running");
    }
}

using System.Text.Json.Nodes;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// Sampling parameters at the extremes of their ranges, batched with ordinary greedy streams on the real co-hosted cluster:
/// every request completes, and the ordinary streams get exactly what they get alone. (Penalties that overflowed fp32 once
/// made the attention rank's sampler throw inside a step, failing every sequence of that step.)
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class ExtremeSamplingTests(GatewayFixture fixture)
{
    private const int MaxTokens = 8;

    [Fact]
    public async Task ExtremeButValidParametersFailNoRequestInTheirBatch()
    {
        var gateway = fixture.Gateway;
        var model = gateway.App.Services.GetRequiredService<ServedModel>();
        var prompts = Enumerable.Range(0, 4).Select(i => model.Tokenizer.Encode($"Ordinary request {i} about the sea")).ToArray();
        var alone = new CompletionsHttp.Result[prompts.Length];
        for (int i = 0; i < prompts.Length; i++)
            alone[i] = await CompletionsHttp.CompleteAsync(gateway.Http, CompletionsHttp.Body(model.Id, prompts[i], MaxTokens, stream: false));

        var extreme = model.Tokenizer.Encode("the sea the sea the sea the sea");
        JsonObject Extreme(double temperature, double repetition, double presence = 0, double frequency = 0)
        {
            var body = CompletionsHttp.Body(model.Id, extreme, MaxTokens, stream: false);
            body["temperature"] = temperature;
            body["repetition_penalty"] = repetition;
            body["presence_penalty"] = presence;
            body["frequency_penalty"] = frequency;
            body["seed"] = 1;
            return body;
        }

        JsonObject[] extremes =
        [
            Extreme(1, 1e-45), Extreme(0, 1e-45), Extreme(1e-5, 1e36), Extreme(0, 3.4e38), Extreme(1, 3.4e38, 2, 2),
            Extreme(0.5, 1e-30, -2, -2), Extreme(3e38, 1e30),
        ];
        var ordinary = prompts.Select(p => CompletionsHttp.Body(model.Id, p, MaxTokens, stream: true)).ToArray();
        var batch = extremes.Select(b => CompletionsHttp.CompleteAsync(gateway.Http, b))
            .Concat(ordinary.Select(b => CompletionsHttp.StreamAsync(gateway.Http, b)))
            .ToArray();

        var results = await Task.WhenAll(batch);

        Assert.All(results, r => Assert.Equal((MaxTokens, "length"), (r.CompletionTokens, r.FinishReason)));
        for (int i = 0; i < prompts.Length; i++)
            Assert.Equal(alone[i], results[extremes.Length + i]);
    }
}

using System.Globalization;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// Prefix caching through the official OpenAI .NET client: a second conversation with the same long system prompt reports
/// <c>usage.prompt_tokens_details.cached_tokens</c> &gt; 0 and gets the greedy reply a gateway without the cache gives;
/// <c>/metrics</c> counts the queried and hit tokens.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class PrefixCachingTests(GatewayFixture fixture)
{
    // Long enough for many 16-token blocks under the tiny tokenizer; unique to this test, so no other test warmed it.
    private static readonly string System = "You are the prefix-cache test assistant. " + string.Join(" ",
        Enumerable.Range(0, 5).Select(i => $"Rule {i.ToString(CultureInfo.InvariantCulture)}: answer briefly about the sea and its tides."));

    private static ChatMessage[] Conversation(string user) => [new SystemChatMessage(System), new UserChatMessage(user)];

    private static readonly ChatCompletionOptions Greedy = new() { Temperature = 0, MaxOutputTokenCount = 12 };

    [Fact]
    public async Task ASecondRequestWithTheSameSystemPromptHitsTheCacheAndRepliesAsWithoutIt()
    {
        var model = fixture.Gateway.App.Services.GetRequiredService<ServedModel>();
        var cached = OpenAiClients.Chat(fixture.Gateway.BaseAddress, model.Id);

        ChatCompletion first = await cached.CompleteChatAsync(Conversation("What is a tide?"), Greedy);
        ChatCompletion second = await cached.CompleteChatAsync(Conversation("Why is the sea salty?"), Greedy);

        await using var plain = await InProcessGateway.StartAsync(
            ["--model", TinyModelCache.ModelDirectory(fixture.CacheDirectory), "--dtype", "fp32", "--enable-prefix-caching", "false"]);
        await plain.WaitReadyAsync();
        var uncached = OpenAiClients.Chat(plain.BaseAddress, model.Id);
        ChatCompletion reference = await uncached.CompleteChatAsync(Conversation("Why is the sea salty?"), Greedy);

        Assert.Equal(0, first.Usage.InputTokenDetails.CachedTokenCount);
        int hit = second.Usage.InputTokenDetails.CachedTokenCount;
        Assert.True(hit > 0, "the second request found nothing in the prefix cache");
        Assert.True(hit < second.Usage.InputTokenCount, $"{hit} cached of {second.Usage.InputTokenCount}: the user turn differs");
        Assert.Equal(0, reference.Usage.InputTokenDetails.CachedTokenCount);
        Assert.Equal(reference.Usage.InputTokenCount, second.Usage.InputTokenCount);
        Assert.Equal(reference.Content[0].Text, second.Content[0].Text);
        Assert.Equal(reference.FinishReason, second.FinishReason);

        string metrics = await fixture.Gateway.Http.GetStringAsync("metrics");
        Assert.True(Counter(metrics, "vllm:prefix_cache_hits_total") >= hit);
        Assert.True(Counter(metrics, "vllm:prefix_cache_queries_total") >= first.Usage.InputTokenCount + second.Usage.InputTokenCount);
        Assert.Equal(0, Counter(await plain.Http.GetStringAsync("metrics"), "vllm:prefix_cache_hits_total"));
    }

    private static double Counter(string metrics, string name) =>
        double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + "{", StringComparison.Ordinal)).Split(' ')[^1], CultureInfo.InvariantCulture);
}

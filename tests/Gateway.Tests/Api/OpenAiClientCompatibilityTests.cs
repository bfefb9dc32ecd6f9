using System.ClientModel;
using System.Text;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using AiChatFinishReason = Microsoft.Extensions.AI.ChatFinishReason;
using OpenAiChatFinishReason = OpenAI.Chat.ChatFinishReason;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>The official OpenAI .NET client and Microsoft.Extensions.AI read this API's responses unchanged.</summary>
[Collection(ApiCollection.Name)]
public sealed class OpenAiClientCompatibilityTests(ApiServerFixture server) : ApiTestBase(server)
{
    [Fact]
    public async Task OpenAiChatClient_CompletesAndStreams_WithUsageFinishReasonAndStop()
    {
        var client = NewChatClient();
        var marker = NewMarker("sdk");
        Scheduler.On(marker, TextScript("Hello world! The world is big."));

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage(marker)]);
        Assert.Equal("Hello world! The world is big.", completion.Content[0].Text);
        Assert.Equal(OpenAiChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(Server.ChatPromptLength(marker), completion.Usage.InputTokenCount);
        Assert.Equal(Server.Encode("Hello world! The world is big.").Count, completion.Usage.OutputTokenCount);

        ChatCompletion limited = await client.CompleteChatAsync(
            [new UserChatMessage(marker)], new ChatCompletionOptions { MaxOutputTokenCount = 2 });
        Assert.Equal(OpenAiChatFinishReason.Length, limited.FinishReason);
        Assert.Equal(2, limited.Usage.OutputTokenCount);

        var options = new ChatCompletionOptions { StopSequences = { " is" } };
        var text = new StringBuilder();
        OpenAiChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        await foreach (var update in client.CompleteChatStreamingAsync([new UserChatMessage(marker)], options))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.Equal("Hello world! The world", text.ToString());
        Assert.Equal(OpenAiChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(Server.ChatPromptLength(marker), usage.InputTokenCount);
    }

    [Fact]
    public async Task ExtensionsAiChatClient_GetsResponsesAndStreams()
    {
        IChatClient chat = NewChatClient().AsIChatClient();
        var marker = NewMarker("meai");
        Scheduler.On(marker, TextScript("I am a helpful assistant."));

        var response = await chat.GetResponseAsync(marker);
        Assert.Equal("I am a helpful assistant.", response.Text);
        Assert.Equal(AiChatFinishReason.Stop, response.FinishReason);
        Assert.Equal(Server.ChatPromptLength(marker), response.Usage?.InputTokenCount);

        var streamed = new StringBuilder();
        await foreach (var update in chat.GetStreamingResponseAsync(marker))
        {
            streamed.Append(update.Text);
        }

        Assert.Equal("I am a helpful assistant.", streamed.ToString());
    }

    private ChatClient NewChatClient() => new(
        ApiServerFixture.ModelId,
        new ApiKeyCredential(ApiServerFixture.ApiKey),
        new OpenAIClientOptions { Endpoint = new Uri(Server.BaseAddress, "v1") });
}

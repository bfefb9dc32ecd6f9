using System.Text;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Tests.Hosting;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary><c>Microsoft.Extensions.AI</c>'s <see cref="IChatClient"/> over the OpenAI adapter (<c>AsIChatClient()</c>), streaming and not.</summary>
[Collection(GatewayCollection.Name)]
public sealed class ChatClientAbstractionTests(GatewayFixture fixture)
{
    private ServedModel Model => fixture.Gateway.App.Services.GetRequiredService<ServedModel>();

    private IChatClient Client => OpenAiClients.Chat(fixture.Gateway.BaseAddress, Model.Id).AsIChatClient();

    private static List<Microsoft.Extensions.AI.ChatMessage> Messages =>
        [new(ChatRole.System, OpenAiClientTests.System), new(ChatRole.User, OpenAiClientTests.User)];

    [Fact]
    public async Task GetResponseAndGetStreamingResponseAgree()
    {
        var options = new ChatOptions { Temperature = 0, MaxOutputTokens = 7 };
        var response = await Client.GetResponseAsync(Messages, options);
        Assert.NotEmpty(response.Text);
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Length, response.FinishReason);
        Assert.Equal(7, response.Usage?.OutputTokenCount);
        Assert.Equal(OpenAiClientTests.PromptTokens(Model), response.Usage?.InputTokenCount);
        Assert.Equal(Model.Id, response.ModelId);

        var text = new StringBuilder();
        Microsoft.Extensions.AI.ChatFinishReason? finish = null;
        UsageDetails? usage = null;
        await foreach (var update in Client.GetStreamingResponseAsync(Messages, options))
        {
            text.Append(update.Text);
            finish ??= update.FinishReason;
            usage ??= update.Contents.OfType<UsageContent>().FirstOrDefault()?.Details;
        }
        Assert.Equal(response.Text, text.ToString());
        Assert.Equal(Microsoft.Extensions.AI.ChatFinishReason.Length, finish);
        Assert.Equal(7, usage?.OutputTokenCount);
    }
}

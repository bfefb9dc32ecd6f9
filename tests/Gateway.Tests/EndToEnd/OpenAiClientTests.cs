using System.Text;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Tests.Hosting;
using Llama4Cluster.Core.Tokenization;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// The official OpenAI .NET client (2.x, <see cref="ChatClient"/>) against the one-command gateway: text, exact usage,
/// finish reasons, max tokens and stop sequences, streamed and not (greedy, fp32: the same prompt gives the same reply).
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class OpenAiClientTests(GatewayFixture fixture)
{
    internal const string System = "You are a helpful assistant.";
    internal const string User = "Tell me about the sea.";

    private ServedModel Model => fixture.Gateway.App.Services.GetRequiredService<ServedModel>();

    private ChatClient Client => OpenAiClients.Chat(fixture.Gateway.BaseAddress, Model.Id);

    private static OpenAI.Chat.ChatMessage[] Messages => [new SystemChatMessage(System), new UserChatMessage(User)];

    /// <summary>Prompt tokens of the conversation under the Llama 4 chat template, as the gateway must count them.</summary>
    internal static int PromptTokens(ServedModel model) =>
        ChatTemplate.Encode(model.Tokenizer, [new Core.Tokenization.ChatMessage("system", System), new Core.Tokenization.ChatMessage("user", User)]).Count;

    [Fact]
    public async Task CompleteChatStopsAtMaxTokensWithExactUsage()
    {
        ChatCompletion completion = await Client.CompleteChatAsync(Messages, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 6 });

        Assert.Equal(ChatFinishReason.Length, completion.FinishReason);
        Assert.Equal(ChatMessageRole.Assistant, completion.Role);
        Assert.NotEmpty(completion.Content[0].Text);
        Assert.Equal(Model.Id, completion.Model);
        Assert.Equal(6, completion.Usage.OutputTokenCount);
        Assert.Equal(PromptTokens(Model), completion.Usage.InputTokenCount);
        Assert.Equal(completion.Usage.InputTokenCount + 6, completion.Usage.TotalTokenCount);
    }

    [Fact]
    public async Task CompleteChatStreamingGivesTheSameReplyAndUsage()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 8 };
        ChatCompletion whole = await Client.CompleteChatAsync(Messages, options);

        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        ChatTokenUsage? usage = null;
        int updates = 0;
        await foreach (var update in Client.CompleteChatStreamingAsync(Messages, options))
        {
            updates++;
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
            usage ??= update.Usage;
        }

        Assert.True(updates > 2, $"{updates} updates: the reply was not streamed");
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.Equal(ChatFinishReason.Length, finish);
        Assert.NotNull(usage);
        Assert.Equal((PromptTokens(Model), 8), (usage.InputTokenCount, usage.OutputTokenCount));
    }

    [Fact]
    public async Task AStopSequenceEndsTheReplyBeforeIt()
    {
        ChatCompletion whole = await Client.CompleteChatAsync(Messages, new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 });
        string full = whole.Content[0].Text;
        string stop = StopIn(full);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];

        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 16 };
        options.StopSequences.Add(stop);
        ChatCompletion stopped = await Client.CompleteChatAsync(Messages, options);
        Assert.Equal(expected, stopped.Content.Count == 0 ? "" : stopped.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.True(stopped.Usage.OutputTokenCount < 16, $"{stopped.Usage.OutputTokenCount} tokens: generation went on past the stop");

        var streamed = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in Client.CompleteChatStreamingAsync(Messages, options))
        {
            foreach (var part in update.ContentUpdate) streamed.Append(part.Text);
            finish ??= update.FinishReason;
        }
        Assert.Equal(expected, streamed.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
    }

    /// <summary>A two-character stop string from the middle of <paramref name="text"/> (so the reply is cut, not empty).</summary>
    internal static string StopIn(string text)
    {
        Assert.True(text.Length >= 6, $"the reference reply '{text}' is too short to cut");
        for (int i = text.Length / 2; i < text.Length - 1; i++)
        {
            string candidate = text.Substring(i, 2);
            if (!string.IsNullOrWhiteSpace(candidate) && !char.IsSurrogate(candidate[0]) && !char.IsSurrogate(candidate[1]) && text.IndexOf(candidate, StringComparison.Ordinal) > 0)
                return candidate;
        }
        throw new InvalidOperationException($"no usable stop string in '{text}'");
    }
}

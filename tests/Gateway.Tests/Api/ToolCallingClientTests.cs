using System.ClientModel;
using System.Text;
using System.Text.Json;
using Llama4Cluster.Core.Tokenization;
using Microsoft.Extensions.AI;
using OpenAI;
using OpenAI.Chat;
using ChatMessage = OpenAI.Chat.ChatMessage;
using CoreChatMessage = Llama4Cluster.Core.Tokenization.ChatMessage;
using CoreToolCall = Llama4Cluster.Core.Tools.ToolCall;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>Tool calling through the official OpenAI .NET client and Microsoft.Extensions.AI's function invocation, over
/// scripted answers.</summary>
[Collection(ToolApiCollection.Name)]
public sealed class ToolCallingClientTests(ToolApiServerFixture server) : ApiTestBase(server)
{
    private static readonly ChatTool WeatherTool = ChatTool.CreateFunctionTool(
        "get_weather", "Weather of a city", BinaryData.FromString(ToolScripts.WeatherParameters));

    private void Script(string marker, string answer) =>
        Scheduler.On(marker, new FakeScript { Tokens = _ => ToolScripts.Ids(Server.Tokenizer, answer) });

    [Fact]
    public async Task OpenAi_client_round_trip_sends_the_call_and_its_result_back_and_gets_the_answer()
    {
        var client = NewChatClient();
        var ask = NewMarker("ask");
        var result = NewMarker("result");
        Script(ask, "[get_weather(city=\"Paris\")]");
        Script(result, "It is sunny in Paris.");
        var options = new ChatCompletionOptions { Tools = { WeatherTool } };
        List<ChatMessage> messages = [new UserChatMessage(ask)];

        ChatCompletion first = await client.CompleteChatAsync(messages, options);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("Paris", JsonDocument.Parse(call.FunctionArguments).RootElement.GetProperty("city").GetString());

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, $"{result} sunny"));
        ChatCompletion second = await client.CompleteChatAsync(messages, options);
        Assert.Equal("It is sunny in Paris.", second.Content[0].Text);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.Stop, second.FinishReason);

        CoreChatMessage[] rendered =
        [
            new("user", ask),
            new("assistant", "") { ToolCalls = [new CoreToolCall(call.Id, "get_weather", "{\"city\": \"Paris\"}")] },
            new("tool", $"{result} sunny"),
        ];
        Assert.Equal(
            ChatTemplate.Encode(Server.Tokenizer, rendered, tools: new ChatTools([ToolScripts.Weather])),
            Assert.Single(Scheduler.SequencesFor(result)).Submission.PromptTokens);
    }

    [Fact]
    public async Task OpenAi_client_reassembles_streamed_tool_call_updates()
    {
        var marker = NewMarker("sdk-stream");
        Script(marker, "Checking.<|python_start|>[get_weather(city=\"Paris\", days=[1, 2]), get_weather(city='Rome')]<|python_end|><|eom|>");
        var content = new StringBuilder();
        var ids = new Dictionary<int, string>();
        var names = new Dictionary<int, string>();
        var arguments = new Dictionary<int, StringBuilder>();
        OpenAI.Chat.ChatFinishReason? finish = null;

        await foreach (var update in NewChatClient().CompleteChatStreamingAsync(
            [new UserChatMessage(marker)], new ChatCompletionOptions { Tools = { WeatherTool } }))
        {
            foreach (var part in update.ContentUpdate)
            {
                content.Append(part.Text);
            }

            foreach (var tool in update.ToolCallUpdates)
            {
                if (tool.ToolCallId is { } id)
                {
                    ids[tool.Index] = id;
                }

                if (tool.FunctionName is { } name)
                {
                    names[tool.Index] = name;
                }

                if (tool.FunctionArgumentsUpdate is { } piece && !piece.ToMemory().IsEmpty)
                {
                    (arguments.TryGetValue(tool.Index, out var text) ? text : arguments[tool.Index] = new StringBuilder()).Append(piece);
                }
            }

            finish ??= update.FinishReason;
        }

        Assert.Equal("Checking.", content.ToString());
        Assert.Equal(OpenAI.Chat.ChatFinishReason.ToolCalls, finish);
        Assert.Equal([0, 1], ids.Keys.Order());
        Assert.All(ids.Values, id => Assert.StartsWith("call_", id));
        Assert.NotEqual(ids[0], ids[1]);
        Assert.Equal(["get_weather", "get_weather"], [names[0], names[1]]);
        Assert.Equal("{\"city\": \"Paris\", \"days\": [1, 2]}", arguments[0].ToString());
        Assert.Equal("{\"city\": \"Rome\"}", arguments[1].ToString());
    }

    [Fact]
    public async Task Function_invocation_calls_the_dotnet_function_the_model_asked_for_and_returns_the_final_answer()
    {
        var ask = NewMarker("meai-ask");
        var result = NewMarker("meai-result");
        Script(ask, "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}");
        Script(result, "It is 21 degrees in Paris.");
        var asked = new List<string>();
        var weather = AIFunctionFactory.Create(
            (string city) =>
            {
                asked.Add(city);
                return $"{result} 21 degrees in {city}";
            },
            "get_weather",
            "Weather of a city");
        using IChatClient client = NewChatClient().AsIChatClient().AsBuilder().UseFunctionInvocation().Build();

        var response = await client.GetResponseAsync(ask, new ChatOptions { Tools = [weather] });

        Assert.Equal("It is 21 degrees in Paris.", response.Text);
        Assert.Equal(["Paris"], asked);
        var call = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().Single();
        Assert.Equal("get_weather", call.Name);
        Assert.Equal("Paris", call.Arguments?["city"]?.ToString());
        Assert.Contains(response.Messages.SelectMany(m => m.Contents).OfType<FunctionResultContent>(), r => r.CallId == call.CallId);
        var prompt = Server.Tokenizer.Decode(Assert.Single(Scheduler.SequencesFor(result)).Submission.PromptTokens);
        Assert.Contains("<|python_start|><|python_end|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot|>", prompt, StringComparison.Ordinal);
        Assert.Contains($"<|header_start|>ipython<|header_end|>\n\n", prompt, StringComparison.Ordinal);

        // Streaming: the same round trip, the final answer streamed.
        asked.Clear();
        var streamed = new StringBuilder();
        await foreach (var update in client.GetStreamingResponseAsync(ask, new ChatOptions { Tools = [weather] }))
        {
            streamed.Append(update.Text);
        }

        Assert.Equal("It is 21 degrees in Paris.", streamed.ToString());
        Assert.Equal(["Paris"], asked);
    }

    private ChatClient NewChatClient() => new(
        ApiServerFixture.ModelId,
        new ApiKeyCredential(ApiServerFixture.ApiKey),
        new OpenAIClientOptions { Endpoint = new Uri(Server.BaseAddress, "v1") });
}

using System.ClientModel;
using System.Collections.Concurrent;
using System.Text;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Tests.Scheduling;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Gateway.Api;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Scheduling;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenAI;
using OpenAI.Chat;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>
/// A tool call end to end behind the real continuous-batching scheduler: a scripted step backend (the scheduler tests'
/// <see cref="FakeStepBackend"/>) samples the chosen answer's ids, token by token, for the prompt the gateway rendered;
/// the gateway reads the call out of them and the OpenAI client gets it, streamed and not. A random-weight model would
/// not write a call by itself; the product code in between is all real.
/// </summary>
public sealed class ScriptedSchedulerToolTests : IAsyncLifetime
{
    private const string Question = "What is the weather in Paris?";
    private const string Answer = "Let me look.<|python_start|>[get_weather(city=\"Paris\", days=[1, 2])]<|python_end|><|eom|>";

    private readonly string _directory = Path.Combine(Path.GetTempPath(), "l4c-tools-" + Guid.NewGuid().ToString("N"));
    private readonly ConcurrentDictionary<string, (IReadOnlyList<int> Prompt, IReadOnlyList<int> Answer)> _answers = new();
    private Llama4Tokenizer _tokenizer = null!;
    private WebApplication? _app;
    private ChatClient _client = null!;

    public async Task InitializeAsync()
    {
        TinyTokenizerWriter.Write(_directory, Llama4Presets.TinyScout.VocabSize);
        _tokenizer = Llama4Tokenizer.Load(_directory);
        var model = new ServedModel("tiny-scout", _directory, Llama4Presets.TinyScout, _tokenizer, 4096, _tokenizer.StopTokenIds, 1_700_000_000);
        var prompt = ChatTemplate.Encode(_tokenizer, [new Core.Tokenization.ChatMessage("user", Question)], tools: new ChatTools([ToolScripts.Weather]));
        _answers["weather"] = (prompt, ToolScripts.Ids(_tokenizer, Answer));

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(model);
        builder.Services.AddSingleton<IStepBackend>(new FakeStepBackend(1, Next));
        builder.Services.AddGenerationScheduler();
        builder.Services.AddOpenAiApi();
        _app = builder.Build();
        _app.MapOpenAiApi();
        await _app.StartAsync();
        _client = new ChatClient("tiny-scout", new ApiKeyCredential("unused"), new OpenAIClientOptions { Endpoint = new Uri(new Uri(_app.Urls.Single()), "v1") });
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task The_scheduler_sampled_call_reaches_the_client_streamed_and_whole()
    {
        var options = new ChatCompletionOptions { Tools = { ChatTool.CreateFunctionTool("get_weather", "Weather of a city", BinaryData.FromString(ToolScripts.WeatherParameters)) } };

        ChatCompletion whole = await _client.CompleteChatAsync([new UserChatMessage(Question)], options);
        Assert.Equal(OpenAI.Chat.ChatFinishReason.ToolCalls, whole.FinishReason);
        Assert.Equal("Let me look.", whole.Content[0].Text);
        var call = Assert.Single(whole.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.Equal("{\"city\": \"Paris\", \"days\": [1, 2]}", call.FunctionArguments.ToString());
        Assert.Equal(_answers["weather"].Answer.Count - 1, whole.Usage.OutputTokenCount); // the closing <|eom|> ends it

        var content = new StringBuilder();
        var arguments = new StringBuilder();
        string? name = null;
        OpenAI.Chat.ChatFinishReason? finish = null;
        await foreach (var update in _client.CompleteChatStreamingAsync([new UserChatMessage(Question)], options))
        {
            content.Append(string.Concat(update.ContentUpdate.Select(p => p.Text)));
            foreach (var tool in update.ToolCallUpdates)
            {
                Assert.Equal(0, tool.Index);
                name ??= tool.FunctionName;
                arguments.Append(tool.FunctionArgumentsUpdate);
            }

            finish ??= update.FinishReason;
        }

        Assert.Equal("Let me look.", content.ToString());
        Assert.Equal("get_weather", name);
        Assert.Equal("{\"city\": \"Paris\", \"days\": [1, 2]}", arguments.ToString());
        Assert.Equal(OpenAI.Chat.ChatFinishReason.ToolCalls, finish);
    }

    /// <summary>The next token of a sequence: the scripted answer's, for the prompt it was scripted for; else end of turn.</summary>
    private int Next(IReadOnlyList<int> history)
    {
        foreach (var (prompt, answer) in _answers.Values)
        {
            if (history.Count >= prompt.Count && history.Take(prompt.Count).SequenceEqual(prompt))
            {
                var k = history.Count - prompt.Count;
                return k < answer.Count ? answer[k] : _tokenizer.EndOfTurn;
            }
        }

        return _tokenizer.EndOfTurn;
    }
}

using Llama4Cluster.Core.Tests.Guidance;
using Llama4Cluster.Gateway.Tests.Hosting;
using OpenAI.Chat;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// <c>tool_choice</c> <c>required</c> and a named function, enforced by guided decoding through the one-command gateway
/// (co-hosted silo, random-weight tiny-scout) and the official OpenAI .NET client: even this model answers with a call
/// whose name is one of the tools (the named one) and whose arguments validate against that tool's schema, at temperature
/// 0 and 1 with seeds. The tools' schemas are bounded, so every answer completes within the token limit.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class ForcedToolCallTests(GatewayFixture fixture)
{
    private const string WeatherSchema = """
        {"type":"object","properties":{"city":{"type":"string","maxLength":6},"days":{"type":"integer","minimum":1,"maximum":7}},
         "required":["city","days"],"additionalProperties":false}
        """;

    private const string TimeSchema = """
        {"type":"object","properties":{"zone":{"enum":["CET","UTC"]}},"required":["zone"],"additionalProperties":false}
        """;

    private static readonly Dictionary<string, string> Schemas = new() { ["get_weather"] = WeatherSchema, ["get_time"] = TimeSchema };

    private ChatClient Client => OpenAiClients.Chat(fixture.Gateway.BaseAddress, "tiny-scout");

    private static ChatCompletionOptions Options(ChatToolChoice choice, float temperature, long seed)
    {
        var options = new ChatCompletionOptions
        {
            Temperature = temperature,
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
            Seed = seed,
#pragma warning restore OPENAI001
            MaxOutputTokenCount = 160,
            ToolChoice = choice,
            AllowParallelToolCalls = false,
        };
        foreach (var (name, schema) in Schemas)
            options.Tools.Add(ChatTool.CreateFunctionTool(name, $"the {name} function", BinaryData.FromString(schema), functionSchemaIsStrict: true));
        return options;
    }

    [Theory]
    [InlineData(null, 0f, 0L)]
    [InlineData(null, 1f, 3L)]
    [InlineData("get_time", 0f, 0L)]
    [InlineData("get_weather", 1f, 7L)]
    public async Task TheAnswerIsACallWhoseArgumentsValidate(string? named, float temperature, long seed)
    {
        var choice = named is null ? ChatToolChoice.CreateRequiredChoice() : ChatToolChoice.CreateFunctionChoice(named);
        ChatCompletion reply = await Client.CompleteChatAsync([new UserChatMessage("What should I call?")], Options(choice, temperature, seed));

        Assert.Equal(ChatFinishReason.ToolCalls, reply.FinishReason);
        var call = Assert.Single(reply.ToolCalls);
        if (named is not null) Assert.Equal(named, call.FunctionName);
        Assert.True(Schemas.ContainsKey(call.FunctionName), call.FunctionName);
        Assert.Empty(SchemaCheck.Errors(Schemas[call.FunctionName], call.FunctionArguments.ToString()));
    }
}

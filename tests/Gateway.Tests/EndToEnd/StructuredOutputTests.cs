using System.ClientModel;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Llama4Cluster.Core.Tests.Guidance;
using Llama4Cluster.Gateway.Hosting;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Gateway.Tests.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OpenAI.Chat;

namespace Llama4Cluster.Gateway.Tests.EndToEnd;

/// <summary>
/// Structured output through the one-command gateway (co-hosted silo, random-weight tiny-scout): the official OpenAI .NET
/// client's <c>response_format</c> json_schema (strict) at temperature 0 and 1 with seeds, streamed and not, and
/// json_object; vLLM's guided_json, guided_regex and guided_choice over raw HTTP on chat and completions. The schemas are
/// bounded (short strings, bounded numbers and whitespace), so with max tokens above their longest output every reply
/// completes: finish reason stop, and it parses and validates against the schema.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class StructuredOutputTests(GatewayFixture fixture)
{
    /// <summary>At most about 170 bytes whatever the model does: the tiny tokenizer spells it in at most that many tokens.</summary>
    private const string Schema = """
        {"type":"object","properties":{"name":{"type":"string","maxLength":4},"age":{"type":"integer","minimum":1,"maximum":99},
         "color":{"enum":["red","green"]},"ok":{"type":["boolean","null"]}},"required":["name","age","color"],"additionalProperties":false}
        """;

    private const int MaxTokens = 200;

    private ServedModel Model => fixture.Gateway.App.Services.GetRequiredService<ServedModel>();

    private ChatClient Client => OpenAiClients.Chat(fixture.Gateway.BaseAddress, Model.Id);

    private static ChatMessage[] Messages => [new UserChatMessage("A person, as JSON.")];

    private static ChatCompletionOptions Options(float temperature, long? seed = null) => new()
    {
        Temperature = temperature,
#pragma warning disable OPENAI001 // Seed is marked experimental in the SDK
        Seed = seed,
#pragma warning restore OPENAI001
        MaxOutputTokenCount = MaxTokens,
        ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("person", BinaryData.FromString(Schema), jsonSchemaIsStrict: true),
    };

    [Fact]
    public async Task JsonSchemaAtTemperatureZeroAndOneValidates()
    {
        var replies = new List<ChatCompletion> { await Client.CompleteChatAsync(Messages, Options(0)) };
        foreach (var seed in new long[] { 1, 2, 3 })
        {
            replies.Add(await Client.CompleteChatAsync(Messages, Options(1, seed)));
        }

        foreach (var reply in replies)
        {
            Assert.Equal(ChatFinishReason.Stop, reply.FinishReason);
            Assert.True(reply.Usage.OutputTokenCount < MaxTokens);
            Assert.Empty(SchemaCheck.Errors(Schema, reply.Content[0].Text));
        }

        // Seeded requests reproduce.
        ChatCompletion again = await Client.CompleteChatAsync(Messages, Options(1, 2));
        Assert.Equal(replies[2].Content[0].Text, again.Content[0].Text);
    }

    [Fact]
    public async Task AStreamedJsonSchemaReplyReassemblesIntoValidJson()
    {
        var text = new StringBuilder();
        ChatFinishReason? finish = null;
        await foreach (var update in Client.CompleteChatStreamingAsync(Messages, Options(1, 11)))
        {
            foreach (var part in update.ContentUpdate) text.Append(part.Text);
            finish ??= update.FinishReason;
        }

        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.Empty(SchemaCheck.Errors(Schema, text.ToString()));
    }

    [Fact]
    public async Task JsonObjectWritesAnObject()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 120, ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat() };
        ChatCompletion reply = await Client.CompleteChatAsync(Messages, options);
        var text = reply.Content[0].Text;
        Assert.StartsWith("{", text, StringComparison.Ordinal);
        if (reply.FinishReason == ChatFinishReason.Stop)
        {
            Assert.Equal(JsonValueKind.Object, JsonDocument.Parse(text).RootElement.ValueKind);
        }
        else
        {
            // json_object is unbounded: a random model may still be inside a string at the token limit.
            Assert.Equal(ChatFinishReason.Length, reply.FinishReason);
        }
    }

    [Fact]
    public async Task AnUnsupportedSchemaIsA400ThroughTheClient()
    {
        var options = new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("bad", BinaryData.FromString("""{"type":"object","patternProperties":{"^x":{}}}""")),
        };
        var e = await Assert.ThrowsAsync<ClientResultException>(() => Client.CompleteChatAsync(Messages, options));
        Assert.Equal(400, e.Status);
        Assert.Contains("patternProperties", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GuidedChoiceAndRegexOnChatAndCompletions()
    {
        var http = fixture.Gateway.Http;
        var choices = new[] { "positive", "negative", "neutral" };
        foreach (var temperature in new[] { 0, 1 })
        {
            var chat = await PostAsync(http, "v1/chat/completions", new JsonObject
            {
                ["model"] = Model.Id, ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = "Sentiment?" }),
                ["guided_choice"] = new JsonArray([.. choices.Select(c => (JsonNode)c)]), ["temperature"] = temperature, ["seed"] = 5, ["max_tokens"] = 40,
            });
            Assert.Contains(chat.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString(), choices);
            Assert.Equal("stop", chat.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        }

        var completion = await PostAsync(http, "v1/completions", new JsonObject
        {
            ["model"] = Model.Id, ["prompt"] = "Code:", ["guided_regex"] = "[A-Z]{3}-[0-9]{2,4}", ["temperature"] = 1, ["seed"] = 9, ["max_tokens"] = 40,
        });
        var text = completion.GetProperty("choices")[0].GetProperty("text").GetString()!;
        Assert.Matches(new Regex("^[A-Z]{3}-[0-9]{2,4}$"), text);

        var json = await PostAsync(http, "v1/completions", new JsonObject
        {
            ["model"] = Model.Id, ["prompt"] = "Person:", ["guided_json"] = JsonNode.Parse(Schema), ["temperature"] = 1, ["seed"] = 4, ["max_tokens"] = MaxTokens,
        });
        Assert.Empty(SchemaCheck.Errors(Schema, json.GetProperty("choices")[0].GetProperty("text").GetString()!));
    }

    private static async Task<JsonElement> PostAsync(HttpClient http, string path, JsonObject body)
    {
        using var response = await http.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}

using System.Net;
using System.Text;
using System.Text.Json;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>Tool calling over HTTP: the prompt with tools, calls read from scripted answers in both forms, OpenAI's
/// response and stream shapes, tool_choice none, and the 400s.</summary>
[Collection(ToolApiCollection.Name)]
public sealed class ToolCallingTests(ToolApiServerFixture server) : ApiTestBase(server)
{
    private void Script(string marker, string answer, FakeEnd end = FakeEnd.Eos) =>
        Scheduler.On(marker, new FakeScript { Tokens = _ => ToolScripts.Ids(Server.Tokenizer, answer), End = end });

    [Fact]
    public async Task A_pythonic_call_is_returned_as_tool_calls_with_finish_reason_tool_calls()
    {
        var marker = NewMarker("py");
        Script(marker, "[get_weather(city=\"Paris\", days=[1, 2])]<|eom|>");

        var (status, body, _) = await PostJsonAsync("/v1/chat/completions", ToolScripts.Body(marker));

        Assert.Equal(HttpStatusCode.OK, status);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("tool_calls", choice.GetProperty("finish_reason").GetString());
        var message = choice.GetProperty("message");
        Assert.Equal(JsonValueKind.Null, message.GetProperty("content").ValueKind);
        var call = Assert.Single(message.GetProperty("tool_calls").EnumerateArray());
        Assert.StartsWith("call_", call.GetProperty("id").GetString());
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        Assert.Equal("{\"city\": \"Paris\", \"days\": [1, 2]}", call.GetProperty("function").GetProperty("arguments").GetString());

        // The prompt lists the tool in the first user message, as the template does.
        var sequence = Assert.Single(Scheduler.SequencesFor(marker));
        Assert.Equal(
            ChatTemplate.Encode(Server.Tokenizer, [new ChatMessage("user", marker)], tools: new ChatTools([ToolScripts.Weather])),
            sequence.Submission.PromptTokens);
    }

    [Fact]
    public async Task A_json_call_after_text_streams_content_then_tool_call_deltas_without_special_tokens()
    {
        var marker = NewMarker("stream");
        Script(marker, "Let me check. <|python_start|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\", \"days\": [3]}}<|python_end|><|eom|>");

        var (_, reader) = await PostStreamAsync("/v1/chat/completions", ToolScripts.Body(marker, ""","stream":true"""));
        var chunks = await reader.ReadAllChunksAsync();

        var deltas = chunks.Select(c => c.GetProperty("choices")[0]).ToList();
        var content = string.Concat(deltas.Select(d => d.GetProperty("delta").TryGetProperty("content", out var c) ? c.GetString() : ""));
        Assert.Equal("Let me check.", content);
        var toolDeltas = deltas.Where(d => d.GetProperty("delta").TryGetProperty("tool_calls", out _))
            .Select(d => Assert.Single(d.GetProperty("delta").GetProperty("tool_calls").EnumerateArray())).ToList();
        Assert.True(toolDeltas.Count >= 3, "an opening delta and argument pieces");
        var opening = toolDeltas[0];
        Assert.Equal(0, opening.GetProperty("index").GetInt32());
        Assert.StartsWith("call_", opening.GetProperty("id").GetString());
        Assert.Equal("function", opening.GetProperty("type").GetString());
        Assert.Equal("get_weather", opening.GetProperty("function").GetProperty("name").GetString());
        Assert.All(toolDeltas.Skip(1), d =>
        {
            Assert.Equal(0, d.GetProperty("index").GetInt32());
            Assert.False(d.TryGetProperty("id", out _));
            Assert.False(d.GetProperty("function").TryGetProperty("name", out _));
        });
        var arguments = string.Concat(toolDeltas.Select(d => d.GetProperty("function").GetProperty("arguments").GetString()));
        Assert.Equal("{\"city\": \"Paris\", \"days\": [3]}", arguments);
        Assert.Equal("tool_calls", deltas[^1].GetProperty("finish_reason").GetString());
        var raw = string.Concat(chunks.Select(c => c.GetRawText()));
        Assert.DoesNotContain("<|", raw, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tool_choice_none_lists_the_tools_but_returns_the_answer_as_content()
    {
        var marker = NewMarker("none");
        Script(marker, "[get_weather(city=\"Paris\")]");

        var (status, body, _) = await PostJsonAsync("/v1/chat/completions", ToolScripts.Body(marker, ""","tool_choice":"none" """));

        Assert.Equal(HttpStatusCode.OK, status);
        var choice = body.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("[get_weather(city=\"Paris\")]", choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Empty(choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray());
        var sequence = Assert.Single(Scheduler.SequencesFor(marker));
        Assert.Contains("\"name\": \"get_weather\"", Server.Tokenizer.Decode(sequence.Submission.PromptTokens), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_call_cut_off_by_max_tokens_is_content_and_parallel_false_keeps_the_first_call()
    {
        var marker = NewMarker("cut");
        Script(marker, "Sure [get_weather(city=\"Paris\", days=[1, 2, 3])]");
        var (_, cut, _) = await PostJsonAsync("/v1/chat/completions", ToolScripts.Body(marker, ""","max_tokens":6"""));
        var choice = cut.GetProperty("choices")[0];
        Assert.Equal("length", choice.GetProperty("finish_reason").GetString());
        Assert.Equal(
            Server.Tokenizer.Decode(ToolScripts.Ids(Server.Tokenizer, "Sure [get_weather(city=\"Paris\", days=[1, 2, 3])]").Take(6)),
            choice.GetProperty("message").GetProperty("content").GetString());
        Assert.Empty(choice.GetProperty("message").GetProperty("tool_calls").EnumerateArray());

        var two = NewMarker("two");
        Script(two, "[get_weather(city=\"Paris\"), get_weather(city=\"Rome\")]");
        var (_, both, _) = await PostJsonAsync("/v1/chat/completions", ToolScripts.Body(two));
        Assert.Equal(2, both.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls").GetArrayLength());
        var (_, first, _) = await PostJsonAsync("/v1/chat/completions", ToolScripts.Body(two, ""","parallel_tool_calls":false"""));
        var only = Assert.Single(first.GetProperty("choices")[0].GetProperty("message").GetProperty("tool_calls").EnumerateArray());
        Assert.Equal("{\"city\": \"Paris\"}", only.GetProperty("function").GetProperty("arguments").GetString());
    }

    [Fact]
    public async Task Assistant_tool_calls_and_tool_results_are_accepted_and_rendered()
    {
        var marker = NewMarker("history");
        Script(marker, "It is sunny.");
        var body = $$$"""
            {"model":"{{{ApiServerFixture.ModelId}}}","tools":[{{{ToolScripts.WeatherTool}}}],"messages":[
              {"role":"user","content":"{{{marker}}}"},
              {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
              {"role":"tool","tool_call_id":"call_1","content":"sunny"}]}
            """;

        var (status, response, _) = await PostJsonAsync("/v1/chat/completions", body);

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("It is sunny.", response.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        Assert.Equal("stop", response.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
        ChatMessage[] expected =
        [
            new("user", marker),
            new("assistant", "") { ToolCalls = [new ToolCall("call_1", "get_weather", "{\"city\": \"Paris\"}")] },
            new("tool", "sunny"),
        ];
        Assert.Equal(
            ChatTemplate.Encode(Server.Tokenizer, expected, tools: new ChatTools([ToolScripts.Weather])),
            Assert.Single(Scheduler.SequencesFor(marker)).Submission.PromptTokens);
    }

    [Theory]
    [InlineData(""","tool_choice":{"type":"function","function":{"name":"send_email"}}""", "tool_choice", "send_email")]
    [InlineData(""","tool_choice":"sometimes" """, "tool_choice", "sometimes")]
    [InlineData(""","tool_choice":"required","response_format":{"type":"json_object"}""", "tool_choice", "only one")]
    [InlineData(""","tool_choice":{"type":"function","function":{"name":"get_weather"}},"guided_regex":"a+" """, "tool_choice", "only one")]
    [InlineData(""","tool_choice":7""", "tool_choice", "must be")]
    [InlineData(""","parallel_tool_calls":"yes" """, "parallel_tool_calls", "boolean")]
    [InlineData(""","functions":[]""", "functions", "tools")]
    [InlineData(""","function_call":"auto" """, "function_call", "tools")]
    [InlineData(""","chat_template_kwargs":{"custom_tools":[]}""", "chat_template_kwargs", "custom_tools")]
    [InlineData(""","chat_template_kwargs":{"tools_in_user_message":1}""", "chat_template_kwargs.tools_in_user_message", "boolean")]
    public async Task Bad_tool_fields_are_400s_naming_them(string extra, string param, string mention)
    {
        var (status, body, _) = await PostJsonAsync("/v1/chat/completions", ToolScripts.Body(NewMarker("bad"), extra));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", param, messageContains: mention);
    }

    [Theory]
    [InlineData("""{"tools":{"type":"function"}}""", "tools")]
    [InlineData("""{"tools":[{"type":"code_interpreter"}]}""", "tools[0].type")]
    [InlineData("""{"tools":[{"type":"function"}]}""", "tools[0].function")]
    [InlineData("""{"tools":[{"type":"function","function":{"description":"x"}}]}""", "tools[0].function.name")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"get weather"}}]}""", "tools[0].function.name")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f","parameters":"{}"}}]}""", "tools[0].function.parameters")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f","strict":true}}]}""", "tools[0].function.strict")]
    [InlineData("""{"tools":[{"type":"function","function":{"name":"f"}},{"type":"function","function":{"name":"f"}}]}""", "tools")]
    [InlineData("""{"tool_choice":"auto"}""", "tool_choice")]
    [InlineData("""{"messages":[{"role":"user","content":"x","tool_calls":[]}]}""", "messages[0].tool_calls")]
    [InlineData("""{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f","arguments":"{oops"}}]}]}""", "messages[1].tool_calls[0].function.arguments")]
    [InlineData("""{"messages":[{"role":"user","content":"x"},{"role":"assistant","tool_calls":[{"type":"function","function":{"name":"f"}}]}]}""", "messages[1].tool_calls[0].function.arguments")]
    [InlineData("""{"messages":[{"role":"tool","content":"x","tool_call_id":5}]}""", "messages[0].tool_call_id")]
    [InlineData("""{"messages":[{"role":"system","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}""", "messages")]
    public async Task Bad_tool_definitions_and_messages_are_400s_naming_the_field(string fields, string param)
    {
        using var patch = JsonDocument.Parse(fields);
        var request = new Dictionary<string, JsonElement>
        {
            ["model"] = JsonSerializer.SerializeToElement(ApiServerFixture.ModelId),
            ["messages"] = JsonSerializer.SerializeToElement(new[] { new { role = "user", content = "hi" } }),
        };
        foreach (var property in patch.RootElement.EnumerateObject())
        {
            request[property.Name] = property.Value;
        }

        var (status, body, _) = await PostJsonAsync("/v1/chat/completions", JsonSerializer.Serialize(request));
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", param);
        await AssertServerAnswersAsync();
    }

    [Fact]
    public async Task More_tools_than_the_limit_is_a_400_naming_the_limit()
    {
        static string Tools(int count) => string.Join(',', Enumerable.Range(0, count).Select(i => $$$"""{"type":"function","function":{"name":"f{{{i}}}"}}"""));
        var marker = NewMarker("many");
        var over = $$"""{"model":"{{ApiServerFixture.ModelId}}","messages":[{"role":"user","content":"{{marker}}"}],"tools":[{{Tools(129)}}]}""";
        var (status, body, _) = await PostJsonAsync("/v1/chat/completions", over);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        AssertError(body, "invalid_request_error", "tools", messageContains: "128");

        await AssertServerAnswersAsync();
    }
}

using System.Text.RegularExpressions;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tests.Tokenization;

/// <summary>The chat format with tools (docs/MODEL.md "Tool calls"): exact text, as HF's Llama 4 template writes it, and
/// ids equal to that text tokenized as HF does (special-token strings as their ids, the text between them as BPE).</summary>
public sealed class ChatTemplateToolTests(TinyTokenizerFixture fixture) : IClassFixture<TinyTokenizerFixture>
{
    private static readonly ToolDefinition Weather = new(
        "get_weather", "Weather of a city", """{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}""");

    private const string WeatherJson =
        "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"get_weather\",\n        \"description\": \"Weather of a city\",\n" +
        "        \"parameters\": {\n            \"type\": \"object\",\n            \"properties\": {\n                \"city\": {\n" +
        "                    \"type\": \"string\"\n                }\n            },\n            \"required\": [\n                \"city\"\n" +
        "            ]\n        }\n    }\n}";

    private const string Instructions =
        "Given the following functions, please respond with a JSON for a function call with its proper arguments that best answers the given prompt.\n\n" +
        "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n";

    private static readonly ChatMessage[] Conversation =
    [
        new("system", " You are helpful. "),
        new("user", "What is the weather in Paris?\n"),
        new("assistant", "") { ToolCalls = [new ToolCall("call_1", "get_weather", "{\"city\": \"Paris\"}")] },
        new("tool", "{\"temp\": 21}"),
    ];

    private Llama4Tokenizer Tokenizer => fixture.Tokenizer;

    [Fact]
    public void Tools_in_the_first_user_message_render_exactly_as_the_hf_template()
    {
        var expected =
            "<|begin_of_text|><|header_start|>system<|header_end|>\n\nEnvironment: ipython\nYou are helpful.<|eot|>" +
            "<|header_start|>user<|header_end|>\n\n" + Instructions + WeatherJson + "\n\nWhat is the weather in Paris?<|eot|>" +
            "<|header_start|>assistant<|header_end|>\n\n<|python_start|><|python_end|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|eot|>" +
            "<|header_start|>ipython<|header_end|>\n\n\"{\\\"temp\\\": 21}\"<|eot|>" +
            "<|header_start|>assistant<|header_end|>\n\n";
        var tools = new ChatTools([Weather]);
        Assert.Equal(expected, ChatTemplate.Render(Conversation, tools: tools));
        Assert.Equal(HfIds(expected), ChatTemplate.Encode(Tokenizer, Conversation, tools: tools));
    }

    [Fact]
    public void Tools_in_the_system_message_render_exactly_and_still_appear_without_a_system_message()
    {
        var list = "You have access to the following functions. To call a function, please respond with JSON for a function call." +
            "Respond in the format {\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use variables.\n\n" +
            WeatherJson + "\n\n";
        var tools = new ChatTools([Weather], InUserMessage: false);
        var withSystem = ChatTemplate.Render([new("system", "Be brief."), new("user", " Hi ")], tools: tools);
        Assert.Equal(
            "<|begin_of_text|><|header_start|>system<|header_end|>\n\nEnvironment: ipython\n" + list + "Be brief.<|eot|>" +
            "<|header_start|>user<|header_end|>\n\n Hi <|eot|><|header_start|>assistant<|header_end|>\n\n",
            withSystem);
        Assert.Equal(HfIds(withSystem), ChatTemplate.Encode(Tokenizer, [new("system", "Be brief."), new("user", " Hi ")], tools: tools));

        // HF would drop the list with the system turn; here the system turn is written for it.
        Assert.Equal(
            "<|begin_of_text|><|header_start|>system<|header_end|>\n\nEnvironment: ipython\n" + list + "<|eot|>" +
            "<|header_start|>user<|header_end|>\n\nHi<|eot|>",
            ChatTemplate.Render([new("user", "Hi")], addGenerationPrompt: false, tools));
    }

    [Fact]
    public void Tool_turns_render_the_same_without_tools_and_later_system_messages_are_ordinary_turns()
    {
        ChatMessage[] messages =
        [
            new("user", "Hi"), new("system", " later "), new("assistant", "Let me look.") { ToolCalls = [new ToolCall("c", "f", "{}"), new ToolCall("d", "g", "{\"a\": [1]}")] },
            new("ipython", "line\nbreak"),
        ];
        Assert.Equal(
            "<|begin_of_text|><|header_start|>user<|header_end|>\n\nHi<|eot|><|header_start|>system<|header_end|>\n\n later <|eot|>" +
            "<|header_start|>assistant<|header_end|>\n\n<|python_start|>Let me look.<|python_end|>" +
            "{\"name\": \"f\", \"parameters\": {}}{\"name\": \"g\", \"parameters\": {\"a\": [1]}}<|eot|>" +
            "<|header_start|>ipython<|header_end|>\n\n\"line\\nbreak\"<|eot|>",
            ChatTemplate.Render(messages, addGenerationPrompt: false));
    }

    [Fact]
    public void Tools_need_a_first_user_message_to_hold_the_list()
    {
        var tools = new ChatTools([Weather]);
        Assert.Throws<ArgumentException>(() => ChatTemplate.Encode(Tokenizer, [new("system", "x")], tools: tools));
        Assert.Throws<ArgumentException>(() => ChatTemplate.Encode(Tokenizer, [new("tool", "x")], tools: tools));
        Assert.Throws<ArgumentException>(() => ChatTemplate.Encode(
            Tokenizer, [new("assistant", "") { ToolCalls = [new ToolCall("c", "get_weather", "{}")] }], tools: tools));
    }

    [Fact]
    public void Text_between_two_special_tokens_is_encoded_as_one_piece()
    {
        // "\n\n" + "\nHi" would split the newlines differently from HF, which encodes "\n\n\nHi" whole.
        ChatMessage[] messages = [new("user", "\nHi")];
        var rendered = ChatTemplate.Render(messages);
        Assert.Equal(HfIds(rendered), ChatTemplate.Encode(Tokenizer, messages));
    }

    [RealTokenizerFact]
    public void Real_tokenizer_ids_of_a_tool_call_turn()
    {
        var path = Environment.GetEnvironmentVariable(RealTokenizerFactAttribute.EnvironmentVariable)!;
        var real = File.Exists(path) ? Llama4Tokenizer.LoadTiktokenFile(path) : Llama4Tokenizer.Load(path);
        var ids = ChatTemplate.Encode(real, [new("assistant", "") { ToolCalls = [new ToolCall("c", "f", "{}")] }], addGenerationPrompt: false);
        Assert.Equal([200000, 200005, 140680, 200006, 368, 200016, 200017], ids.Take(7));
        Assert.Equal(200008, ids[^1]);
        Assert.Equal([200005, 607, 6934, 200006, 368], ChatTemplate.Encode(real, [new("tool", "x")], false).Skip(1).Take(5));
    }

    /// <summary>HF's way: special-token strings in the rendered text become their ids, the text between them is encoded.</summary>
    private List<int> HfIds(string rendered)
    {
        var ids = new List<int>();
        foreach (var part in Regex.Split(rendered, @"(<\|[a-z_]+\|>)"))
        {
            if (part.Length == 0)
            {
                continue;
            }

            ids.AddRange(Tokenizer.TryGetSpecialTokenId(part) is { } special ? [special] : Tokenizer.Encode(part));
        }

        return ids;
    }
}

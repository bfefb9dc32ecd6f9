using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tests.Tools;

public sealed class ToolCallParserTests
{
    private static readonly string[] Names = ["get_weather", "add", "f", "g", "search-web"];

    private static ParsedToolOutput Parse(string text, int maxCalls = int.MaxValue) => ToolCallParser.Parse(text, Names, maxCalls);

    private static void AssertCalls(ParsedToolOutput output, params (string Name, string Arguments)[] expected) =>
        Assert.Equal(expected, output.Calls.Select(c => (c.Name, c.ArgumentsJson)).ToArray());

    [Theory]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}")]
    [InlineData("{\"name\":\"get_weather\",\"arguments\":{\"city\":\"Paris\"}}")]
    [InlineData("{\"name\": \"get_weather\", \"arguments\": \"{\\\"city\\\": \\\"Paris\\\"}\"}")]
    [InlineData("[{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}]")]
    [InlineData("[get_weather(city=\"Paris\")]")]
    [InlineData("[get_weather(city='Paris',)]")]
    [InlineData("<|python_start|>[get_weather(city=\"Paris\")]<|python_end|>")]
    [InlineData("<|python_start|>get_weather(city=\"Paris\")<|python_end|>")]
    [InlineData("<|python_start|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}<|python_end|>")]
    [InlineData("<|python_start|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}")]
    [InlineData("<|python_start|><|python_end|>{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}")]
    [InlineData("\n[get_weather(city=\"Paris\")]\n<|eom|>")]
    public void Every_form_of_one_call_gives_the_same_call_and_no_content(string text)
    {
        var output = Parse(text);
        AssertCalls(output, ("get_weather", "{\"city\": \"Paris\"}"));
        Assert.Null(output.Content);
    }

    [Fact]
    public void Several_calls_in_each_form()
    {
        (string, string)[] expected = [("get_weather", "{\"city\": \"Paris\"}"), ("add", "{\"a\": 1, \"b\": 2}")];
        AssertCalls(Parse("[get_weather(city=\"Paris\"), add(a=1, b=2)]"), expected);
        AssertCalls(Parse("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}; {\"name\": \"add\", \"parameters\": {\"a\": 1, \"b\": 2}}"), expected);
        AssertCalls(Parse("[{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}, {\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}]"), expected);
        AssertCalls(Parse("[get_weather(city=\"Paris\")]\n[add(a=1, b=2)]"), expected);
        AssertCalls(Parse("[get_weather(city=\"Paris\"), add(a=1, b=2)]", maxCalls: 1), expected[0]);
    }

    [Fact]
    public void Nested_lists_dicts_and_tuples_in_pythonic_arguments_become_json()
    {
        var output = Parse("[f(a=[1, {\"k\": 2, 'm': [True, None, False]}], b=(1, 2), c={'x': {'y': []}}, d=(3), e=(), g={1: 'one', None: 0})]");
        AssertCalls(output, ("f",
            "{\"a\": [1, {\"k\": 2, \"m\": [true, null, false]}], \"b\": [1, 2], \"c\": {\"x\": {\"y\": []}}, \"d\": 3, \"e\": [], " +
            "\"g\": {\"1\": \"one\", \"null\": 0}}"));
    }

    [Fact]
    public void Python_strings_numbers_and_names_become_json()
    {
        var output = Parse(
            "[f(s='it\\'s', t=\"say \\\"hi\\\"\\n\", u='\\x41\\u00e9\\U0001F600', r=r'\\d+\\'', q=\"\"\"two\nlines \"quoted\" \"\"\", " +
            "e='', n=-1, x=1.5, y=1e3, z=0x1F, w=1_000, v=.5, p=2., j=true, k=null, o='\\101\\q')]");
        AssertCalls(output, ("f",
            "{\"s\": \"it's\", \"t\": \"say \\\"hi\\\"\\n\", \"u\": \"Aé😀\", \"r\": \"\\\\d+\\\\'\", \"q\": \"two\\nlines \\\"quoted\\\" \", " +
            "\"e\": \"\", \"n\": -1, \"x\": 1.5, \"y\": 1e3, \"z\": 31, \"w\": 1000, \"v\": 0.5, \"p\": 2.0, \"j\": true, \"k\": null, \"o\": \"A\\\\q\"}"));
    }

    [Fact]
    public void Json_arguments_are_rewritten_in_the_compact_python_form()
    {
        var output = Parse("{\"name\":\"f\",\"parameters\":{\"a\":[1,2,{\"b\":\"\\u00e9\\n\"}],\"c\":null,\"d\":{}}}");
        AssertCalls(output, ("f", "{\"a\": [1, 2, {\"b\": \"é\\n\"}], \"c\": null, \"d\": {}}"));
        AssertCalls(Parse("[f()]"), ("f", "{}"));
        AssertCalls(Parse("{\"name\": \"search-web\", \"parameters\": null}"), ("search-web", "{}"));
    }

    [Theory]
    [InlineData("Let me check. [get_weather(city=\"Paris\")]", "Let me check.")]
    [InlineData("Let me check.\n\n{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}} Done.", "Let me check. Done.")]
    [InlineData("Sure<|python_start|>[get_weather(city=\"Paris\")]<|python_end|>\nanything else?<|eot|>", "Sure\nanything else?")]
    public void Text_before_and_after_calls_is_content(string text, string content)
    {
        var output = Parse(text);
        AssertCalls(output, ("get_weather", "{\"city\": \"Paris\"}"));
        Assert.Equal(content, output.Content);
    }

    [Theory]
    [InlineData("[get_weather(city=\"Paris\"")]
    [InlineData("[get_weather(\"Paris\")]")]
    [InlineData("[get_weather(city=paris)]")]
    [InlineData("[get_weather(city=\"Paris\") add(a=1)]")]
    [InlineData("[delete_everything(confirm=True)]")]
    [InlineData("[get_weather(city=\"Paris\", city=\"Rome\")]")]
    [InlineData("[get_weather(city=1+2)]")]
    [InlineData("[get_weather(city=b'x')]")]
    [InlineData("{\"name\": \"get_weather\"}")]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": [1]}")]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\",}}")]
    [InlineData("{\"name\": \"get_weather\", \"parameters\": \"not json\"}")]
    [InlineData("{'name': 'get_weather', 'parameters': {}}")]
    [InlineData("The list [1, 2, 3] and the set {a, b} and x < y, [see below](link) {}")]
    [InlineData("[get_weather(city='\\ud800')]")]
    public void Malformed_calls_and_prose_are_content_unchanged(string text)
    {
        var output = Parse(text);
        Assert.Empty(output.Calls);
        Assert.Equal(text, output.Content);
    }

    [Fact]
    public void Special_tokens_never_reach_content()
    {
        Assert.Equal("Hello world", Parse("Hello<|eot|> world<|eom|>").Content);
        var code = Parse("<|python_start|>print(1)<|python_end|>");
        Assert.Empty(code.Calls);
        Assert.Equal("print(1)", code.Content);
        Assert.Equal("[get_weather(city=\"Paris\"", Parse("<|python_start|>[get_weather(city=\"Paris\"").Content);
        Assert.Equal("a <|python b", Parse("a <|python b").Content);
    }

    [Fact]
    public void Hostile_nesting_and_length_end_as_content_without_failing()
    {
        var deep = "[f(a=" + new string('[', 5000) + new string(']', 5000) + ")]";
        Assert.Equal(deep, Parse(deep).Content);
        var deepJson = "{\"name\": \"f\", \"parameters\": " + string.Concat(Enumerable.Repeat("{\"a\": ", 3000)) + "1" + new string('}', 3001);
        Assert.Equal(deepJson, Parse(deepJson).Content);
        var braces = string.Concat(Enumerable.Repeat("{\"a\": [", 2000));
        Assert.Equal(braces, Parse(braces).Content);
    }
}

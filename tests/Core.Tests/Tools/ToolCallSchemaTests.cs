using System.Text.Json.Nodes;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tests.Tools;

public sealed class ToolCallSchemaTests
{
    private static readonly ToolDefinition Weather = new(
        "get_weather", "Weather of a city", """{"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}""");

    private static readonly ToolDefinition Add = new("add", null, """{"properties": {"a": {"type": "integer"}}}""");

    private const string WeatherCall =
        """{"type":"object","properties":{"name":{"const":"get_weather"},"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}},"required":["name","parameters"],"additionalProperties":false}""";

    private const string AddCall =
        """{"type":"object","properties":{"name":{"const":"add"},"parameters":{"properties":{"a":{"type":"integer"}},"type":"object"}},"required":["name","parameters"],"additionalProperties":false}""";

    [Fact]
    public void Auto_and_none_leave_the_answer_free()
    {
        Assert.Null(ToolCallSchema.For([Weather], ToolChoice.Auto, parallelToolCalls: true));
        Assert.Null(ToolCallSchema.For([Weather], ToolChoice.None, parallelToolCalls: true));
    }

    [Fact]
    public void A_named_function_is_one_call_object_with_its_name_constant_and_its_schema()
    {
        Assert.Equal(WeatherCall, ToolCallSchema.For([Add, Weather], ToolChoice.Named("get_weather"), parallelToolCalls: true));
        var e = Assert.Throws<ArgumentException>(() => ToolCallSchema.For([Add], ToolChoice.Named("get_weather"), true));
        Assert.Contains("get_weather", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Required_is_any_of_the_tools_and_an_array_of_them_when_calls_may_be_parallel()
    {
        Assert.Equal(WeatherCall, ToolCallSchema.For([Weather], ToolChoice.Required, parallelToolCalls: false));
        Assert.Equal("{\"anyOf\":[" + WeatherCall + "," + AddCall + "]}", ToolCallSchema.For([Weather, Add], ToolChoice.Required, false));
        Assert.Equal(
            "{\"type\":\"array\",\"minItems\":1,\"items\":{\"anyOf\":[" + WeatherCall + "," + AddCall + "]}}",
            ToolCallSchema.For([Weather, Add], ToolChoice.Required, parallelToolCalls: true));
        Assert.Throws<ArgumentException>(() => ToolCallSchema.For([], ToolChoice.Required, true));
    }

    [Fact]
    public void Defs_move_to_the_root_and_conflicting_ones_are_refused()
    {
        var a = new ToolDefinition("a", null, """{"type": "object", "properties": {"p": {"$ref": "#/$defs/P"}}, "$defs": {"P": {"type": "string"}}}""");
        var b = new ToolDefinition("b", null, """{"type": "object", "properties": {"q": {"$ref": "#/$defs/P"}}, "$defs": {"P": {"type": "string"}}}""");
        var schema = JsonNode.Parse(ToolCallSchema.For([a, b], ToolChoice.Required, true)!)!;
        Assert.Equal("""{"P":{"type":"string"}}""", schema["$defs"]!.ToJsonString());
        Assert.Null(schema["items"]!["anyOf"]![0]!["properties"]!["parameters"]!["$defs"]);

        var c = new ToolDefinition("c", null, """{"type": "object", "$defs": {"P": {"type": "integer"}}}""");
        var e = Assert.Throws<ArgumentException>(() => ToolCallSchema.For([a, c], ToolChoice.Required, true));
        Assert.Contains("$defs/P", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void What_the_schemas_allow_is_read_back_as_calls()
    {
        // The shapes the schemas describe, as guided decoding would write them, are the parser's JSON form.
        var one = ToolCallParser.Parse("""{"name": "get_weather", "parameters": {"city": "Paris"}}""", ["get_weather", "add"]);
        Assert.Equal("get_weather", Assert.Single(one.Calls).Name);
        var many = ToolCallParser.Parse("""[{"name": "get_weather", "parameters": {"city": "Paris"}}, {"name": "add", "parameters": {"a": 1}}]""", ["get_weather", "add"]);
        Assert.Equal(["get_weather", "add"], many.Calls.Select(c => c.Name));
        Assert.Null(many.Content);
    }
}

using Llama4Cluster.Core.Guidance;

using static Llama4Cluster.Core.Tests.Guidance.GuidanceKit;

namespace Llama4Cluster.Core.Tests.Guidance;

/// <summary>Which texts a compiled JSON schema accepts and refuses, keyword by keyword.</summary>
public sealed class JsonSchemaGrammarTests
{
    private const string Person = """
        {"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}, "age": {"type": "integer", "minimum": 0, "maximum": 130},
         "email": {"type": ["string", "null"]}}, "required": ["name", "age"], "additionalProperties": false}
        """;

    [Theory]
    [InlineData("""{"name":"Ann","age":42}""", true)]
    [InlineData("""{"name": "Ann", "age": 42, "email": null}""", true)]
    [InlineData("{\n  \"name\": \"Ann\",\n  \"age\": 0,\n  \"email\": \"a@b\"\n}", true)]
    [InlineData("""{"name":"Ann"}""", false)] // age is required
    [InlineData("""{"age":42,"name":"Ann"}""", false)] // properties come in schema order
    [InlineData("""{"name":"Ann","age":42,"extra":1}""", false)] // additionalProperties false
    [InlineData("""{"name":"Ann","age":131}""", false)] // maximum
    [InlineData("""{"name":"Ann","age":-1}""", false)] // minimum
    [InlineData("""{"name":"Ann","age":4.5}""", false)] // integer
    [InlineData("""{"name":"Annabelle!","age":4}""", false)] // maxLength 8
    [InlineData("""{"name":"Ann","age":42,}""", false)]
    [InlineData("""{"name":"Ann",  "age":42}""", false)] // whitespace is bounded: one space, or a newline and indentation
    public void AnObjectSchema(string text, bool valid) => Assert.Equal(valid, MatchesSchema(Person, text));

    [Theory]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"ab\"", true)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"a\"", false)]
    [InlineData("""{"type":"string","minLength":2,"maxLength":3}""", "\"abcd\"", false)]
    [InlineData("""{"type":"string","maxLength":2}""", "\"é中\"", true)] // code points, not bytes
    [InlineData("""{"type":"string","maxLength":2}""", "\"\\n\\u0041\"", true)] // an escape is one character
    [InlineData("""{"type":"string"}""", "\"\\ud800\"", false)] // a lone surrogate escape would not decode
    [InlineData("""{"type":"string"}""", "\"a\tb\"", false)] // raw control characters are not JSON
    [InlineData("""{"type":"string","pattern":"^[a-z]+-[0-9]{2}$"}""", "\"abc-12\"", true)]
    [InlineData("""{"type":"string","pattern":"^[a-z]+-[0-9]{2}$"}""", "\"abc-1\"", false)]
    [InlineData("""{"type":"string","pattern":"a\"b"}""", "\"a\\\"b\"", true)] // a quote in the pattern is escaped in JSON
    [InlineData("""{"type":"string","format":"date"}""", "\"2024-02-29\"", true)]
    [InlineData("""{"type":"string","format":"date"}""", "\"2024-13-01\"", false)]
    [InlineData("""{"type":"string","format":"uuid"}""", "\"123e4567-e89b-12d3-a456-426614174000\"", true)]
    [InlineData("""{"type":"string","format":"date-time"}""", "\"2024-02-29T12:30:00Z\"", true)]
    public void Strings(string schema, string text, bool valid) => Assert.Equal(valid, MatchesSchema(schema, text));

    [Theory]
    [InlineData("""{"type":"number","minimum":-1.5,"maximum":2.25}""", "-1.5", true)]
    [InlineData("""{"type":"number","minimum":-1.5,"maximum":2.25}""", "2.25", true)]
    [InlineData("""{"type":"number","minimum":-1.5,"maximum":2.25}""", "2.26", false)]
    [InlineData("""{"type":"number","minimum":-1.5,"maximum":2.25}""", "-1.51", false)]
    [InlineData("""{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}""", "0", false)]
    [InlineData("""{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}""", "0.999", true)]
    [InlineData("""{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1}""", "1", false)]
    [InlineData("""{"type":"number","minimum":0,"exclusiveMinimum":true}""", "0", false)] // draft 4's boolean form
    [InlineData("""{"type":"integer","minimum":10,"maximum":20}""", "15", true)]
    [InlineData("""{"type":"integer","minimum":10,"maximum":20}""", "9", false)]
    [InlineData("""{"type":"integer","minimum":10,"maximum":20}""", "015", false)] // no leading zeros
    [InlineData("""{"type":"integer"}""", "-0", true)]
    [InlineData("""{"type":"number"}""", "1e5", false)] // no exponent is generated
    [InlineData("""{"type":"number"}""", "1.", false)]
    public void Numbers(string schema, string text, bool valid) => Assert.Equal(valid, MatchesSchema(schema, text));

    [Theory]
    [InlineData("1", false)] // not yet in range, but 10-19 are ahead
    [InlineData("2", false)] // 20 is ahead
    [InlineData("3", false)] // 3 and 30-39 are out of range: a dead end, refused at once
    public void ABoundedIntegerRefusesDeadEndsAsSoonAsTheyAppear(string prefix, bool complete)
    {
        var spec = GuidanceSpec.JsonSchema("""{"type":"integer","minimum":10,"maximum":20}""");
        Assert.Equal(complete, Matches(spec, prefix));
        Assert.Equal(prefix != "3", IsPrefix(spec, prefix));
    }

    [Theory]
    [InlineData("""{"enum":["red","green",3,null]}""", "\"green\"", true)]
    [InlineData("""{"enum":["red","green",3,null]}""", "3", true)]
    [InlineData("""{"enum":["red","green",3,null]}""", "\"blue\"", false)]
    [InlineData("""{"const":{"a":[1,2]}}""", """{"a":[1,2]}""", true)]
    [InlineData("""{"type":"boolean"}""", "false", true)]
    [InlineData("""{"type":"null"}""", "null", true)]
    [InlineData("""{"type":"string","nullable":true}""", "null", true)]
    [InlineData("""{"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]}""", "\"x\"", true)]
    [InlineData("""{"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]}""", "7", true)]
    [InlineData("""{"anyOf":[{"type":"integer"},{"type":"string","maxLength":1}]}""", "true", false)]
    public void EnumsConstsAndAlternatives(string schema, string text, bool valid) => Assert.Equal(valid, MatchesSchema(schema, text));

    [Theory]
    [InlineData("[]", false)]
    [InlineData("[1]", true)]
    [InlineData("[1, 2, 3]", true)]
    [InlineData("[1,2,3,4]", false)]
    [InlineData("[1,\"a\"]", false)]
    public void ArraysHonourItemsAndCounts(string text, bool valid) =>
        Assert.Equal(valid, MatchesSchema("""{"type":"array","items":{"type":"integer"},"minItems":1,"maxItems":3}""", text));

    [Fact]
    public void NestedObjectsAndArrays()
    {
        const string schema = """
            {"type":"object","properties":{"items":{"type":"array","maxItems":2,"items":{"type":"object",
             "properties":{"id":{"type":"integer"},"tags":{"type":"array","items":{"enum":["a","b"]}}},"required":["id"]}}},"required":["items"]}
            """;
        Assert.True(MatchesSchema(schema, """{"items":[{"id":1,"tags":["a","b"]},{"id":2}]}"""));
        Assert.False(MatchesSchema(schema, """{"items":[{"tags":["a"]}]}"""));
        Assert.False(MatchesSchema(schema, """{"items":[{"id":1},{"id":2},{"id":3}]}"""));
    }

    [Fact]
    public void OptionalPropertiesMayBeLeftOutInAnyCombination()
    {
        const string schema = """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"},"c":{"type":"integer"}}}""";
        foreach (var text in new[] { "{}", """{"a":1}""", """{"b":2}""", """{"c":3}""", """{"a":1,"c":3}""", """{"a":1,"b":2,"c":3}""" })
        {
            Assert.True(MatchesSchema(schema, text), text);
        }

        Assert.False(MatchesSchema(schema, """{,"b":2}"""));
        Assert.False(MatchesSchema(schema, """{"a":1,,"b":2}"""));
    }

    [Fact]
    public void RecursiveReferencesAndDefinitions()
    {
        const string schema = """
            {"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},"next":{"anyOf":[{"$ref":"#/$defs/node"},{"type":"null"}]}},
             "required":["v","next"],"additionalProperties":false}},"$ref":"#/$defs/node"}
            """;
        Assert.True(MatchesSchema(schema, """{"v":1,"next":{"v":2,"next":null}}"""));
        Assert.False(MatchesSchema(schema, """{"v":1,"next":{"v":2}}"""));
    }

    [Fact]
    public void AnEmptySchemaAndJsonObjectAcceptAnyValueOrObject()
    {
        Assert.True(MatchesSchema("{}", """[1,{"a":[true,null,"x"]},-2.5]"""));
        var obj = GuidanceSpec.JsonObject();
        Assert.True(Matches(obj, """{"a":{"b":[1,2,{"c":"d"}]},"e":"f"}"""));
        Assert.False(Matches(obj, "[1]"));
        Assert.False(Matches(obj, "\"x\""));
    }

    [Fact]
    public void AMapFromAdditionalPropertiesAlone() =>
        Assert.True(MatchesSchema("""{"type":"object","additionalProperties":{"type":"integer"}}""", """{"x":1,"y":2}"""));

    [Fact]
    public void AToolCallSchemaWithAnyOfOverTools()
    {
        const string schema = """
            {"anyOf":[
              {"type":"object","properties":{"name":{"const":"get_weather"},"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}},"required":["name","parameters"],"additionalProperties":false},
              {"type":"object","properties":{"name":{"const":"add"},"parameters":{"type":"object","properties":{"a":{"type":"number"},"b":{"type":"number"}},"required":["a","b"],"additionalProperties":false}},"required":["name","parameters"],"additionalProperties":false}]}
            """;
        Assert.True(MatchesSchema(schema, """{"name":"get_weather","parameters":{"city":"Paris"}}"""));
        Assert.True(MatchesSchema(schema, """{"name":"add","parameters":{"a":1,"b":2.5}}"""));
        Assert.False(MatchesSchema(schema, """{"name":"add","parameters":{"city":"Paris"}}"""));
    }
}

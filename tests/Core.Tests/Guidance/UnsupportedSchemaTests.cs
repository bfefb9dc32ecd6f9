using Llama4Cluster.Core.Guidance;

namespace Llama4Cluster.Core.Tests.Guidance;

/// <summary>Schemas and patterns guided decoding cannot honour are refused with an error naming the feature.</summary>
public sealed class UnsupportedSchemaTests
{
    [Theory]
    [InlineData("""{"type":"object","patternProperties":{"^x":{}}}""", "patternProperties")]
    [InlineData("""{"type":"string","format":"email"}""", "format")]
    [InlineData("""{"$ref":"https://example.com/schema.json"}""", "$ref")]
    [InlineData("""{"$ref":"#/$defs/missing"}""", "$ref")]
    [InlineData("""{"not":{"type":"string"}}""", "not")]
    [InlineData("""{"if":{},"then":{}}""", "if")]
    [InlineData("""{"type":"array","uniqueItems":true}""", "uniqueItems")]
    [InlineData("""{"type":"array","prefixItems":[{}]}""", "prefixItems")]
    [InlineData("""{"type":"number","multipleOf":3}""", "multipleOf")]
    [InlineData("""{"allOf":[{"type":"string"},{"maxLength":3}]}""", "allOf")]
    [InlineData("""{"type":"string","pattern":"(?=a)b"}""", "lookaround")]
    [InlineData("""{"type":"string","minLength":5,"maxLength":2}""", "maxLength")]
    [InlineData("""{"type":"integer","minimum":5,"maximum":4}""", "minimum")]
    [InlineData("""{"type":"widget"}""", "type")]
    [InlineData("""{"type":"array","maxItems":1000000}""", "maxItems")]
    [InlineData("""{"$ref":"#"}""", "recursion")]
    [InlineData("not json", "schema")]
    public void AnUnsupportedFeatureIsNamed(string schema, string feature)
    {
        var e = Assert.Throws<GuidanceException>(() => GrammarCompiler.Validate(GuidanceSpec.JsonSchema(schema)));
        Assert.Equal(feature, e.Feature);
        Assert.Contains(feature == "recursion" ? "recurses" : feature, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("(a)\\1", "backreference")]
    [InlineData("\\bword", "anchor")]
    [InlineData("(?i)abc", "inline flags")]
    [InlineData("a++", "possessive quantifier")]
    [InlineData("\\p{L}", "unicode property class")]
    [InlineData("[[:alpha:]]", "POSIX class")]
    [InlineData("a{5,2}", "repetition")]
    [InlineData("(ab", "syntax")]
    [InlineData("a^b", "anchor")]
    public void AnUnsupportedRegexConstructIsNamed(string pattern, string feature)
    {
        var e = Assert.Throws<GuidanceException>(() => GrammarCompiler.Validate(GuidanceSpec.Regex(pattern)));
        Assert.Equal(feature, e.Feature);
    }

    [Fact]
    public void EmptyChoicesAreRefused()
    {
        Assert.Equal("choice", Assert.Throws<GuidanceException>(() => GrammarCompiler.Validate(GuidanceSpec.Choice([]))).Feature);
        Assert.Equal("choice", Assert.Throws<GuidanceException>(() => GrammarCompiler.Validate(GuidanceSpec.Choice(["a", ""]))).Feature);
    }

    [Fact]
    public void AnnotationsAreIgnored() =>
        GrammarCompiler.Validate(GuidanceSpec.JsonSchema("""{"title":"T","description":"d","$schema":"x","examples":[1],"type":"integer","default":3}"""));
}

using Llama4Cluster.Core.Guidance;

using static Llama4Cluster.Core.Tests.Guidance.GuidanceKit;

namespace Llama4Cluster.Core.Tests.Guidance;

/// <summary>
/// Generation that picks any allowed token — the worst a model can do — always finishes a bounded schema within a bound
/// on tokens, and what it writes parses and validates (with an independent validator).
/// </summary>
public sealed class BoundedCompletionTests
{
    private static readonly Lazy<TokenTrie> s_vocabulary = new(() => TokenTrie.Build([.. BenchmarkVocabulary.Generate(20_000, seed: 3)]));

    public static TheoryData<string> Schemas => new()
    {
        """{"type":"object","properties":{"name":{"type":"string","minLength":1,"maxLength":12},"age":{"type":"integer","minimum":0,"maximum":150},"email":{"type":["string","null"],"maxLength":20},"score":{"type":"number","exclusiveMinimum":0,"maximum":1}},"required":["name","age","score"],"additionalProperties":false}""",
        """{"type":"array","items":{"type":"object","properties":{"id":{"type":"integer","minimum":1,"maximum":999},"kind":{"enum":["a","b","c"]},"ok":{"type":"boolean"}},"required":["id","kind"],"additionalProperties":false},"minItems":1,"maxItems":4}""",
        """{"anyOf":[{"type":"object","properties":{"name":{"const":"add"},"parameters":{"type":"object","properties":{"a":{"type":"number","minimum":-100,"maximum":100},"b":{"type":"integer","minimum":0,"maximum":9}},"required":["a","b"],"additionalProperties":false}},"required":["name","parameters"],"additionalProperties":false},{"type":"object","properties":{"name":{"const":"echo"},"parameters":{"type":"object","properties":{"text":{"type":"string","maxLength":10,"pattern":null}},"required":["text"],"additionalProperties":false}},"required":["name","parameters"],"additionalProperties":false}]}""".Replace(",\"pattern\":null", "", StringComparison.Ordinal),
        """{"type":"object","properties":{"day":{"type":"string","format":"date"},"code":{"type":"string","pattern":"^[A-Z]{3}-[0-9]{2}$"}},"required":["day","code"],"additionalProperties":false}""",
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public void AnyAllowedTokenSequenceFinishesAndValidates(string schema)
    {
        var grammar = new GuidedGrammar(GrammarCompiler.Compile(GuidanceSpec.JsonSchema(schema)), s_vocabulary.Value);
        for (var seed = 0; seed < 8; seed++)
        {
            // stopChance 0: never stop early, so the output ends only when the grammar is complete.
            var (text, ended, tokens) = RandomOutput(grammar, new Random(seed), maxTokens: 600, stopChance: 0);
            Assert.True(ended, $"seed {seed}: not complete after {tokens} tokens: {text}");
            Assert.Empty(SchemaCheck.Errors(schema, text));
        }
    }

    [Fact]
    public void AJsonObjectStoppedWhenItMayEndParses()
    {
        var grammar = new GuidedGrammar(GrammarCompiler.Compile(GuidanceSpec.JsonObject()), s_vocabulary.Value);
        for (var seed = 0; seed < 8; seed++)
        {
            var (text, ended, _) = RandomOutput(grammar, new Random(seed), maxTokens: 400, stopChance: 1);
            if (ended)
            {
                using var doc = System.Text.Json.JsonDocument.Parse(text);
                Assert.Equal(System.Text.Json.JsonValueKind.Object, doc.RootElement.ValueKind);
            }
        }
    }
}

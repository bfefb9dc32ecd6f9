using System.Text;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Tests.Tokenization;

using static Llama4Cluster.Core.Tests.Guidance.GuidanceKit;

namespace Llama4Cluster.Core.Tests.Guidance;

/// <summary>The trie walk's masks against brute force, over a hand-made, the tiny and a 20k synthetic vocabulary.</summary>
public sealed class TokenMaskTests(TinyTokenizerFixture tiny) : IClassFixture<TinyTokenizerFixture>
{
    private static readonly Lazy<TokenTrie> s_synthetic = new(() => TokenTrie.Build([.. BenchmarkVocabulary.Generate(20_000, seed: 7)]));

    public static TheoryData<string> Specs => new()
    {
        """{"type":"object","properties":{"name":{"type":"string","maxLength":6},"n":{"type":"integer","minimum":-5,"maximum":300},"ok":{"type":"boolean"},"tags":{"type":"array","items":{"enum":["x","yz"]},"maxItems":2}},"required":["name","n"],"additionalProperties":false}""",
        "json_object",
        "regex:[a-z]{1,4}( [0-9]+\\.[0-9])?",
        "choice:alpha|beta|alphabet",
    };

    private static GuidanceSpec Spec(string s) => s switch
    {
        "json_object" => GuidanceSpec.JsonObject(),
        _ when s.StartsWith("regex:", StringComparison.Ordinal) => GuidanceSpec.Regex(s[6..]),
        _ when s.StartsWith("choice:", StringComparison.Ordinal) => GuidanceSpec.Choice(s[7..].Split('|')),
        _ => GuidanceSpec.JsonSchema(s),
    };

    [Fact]
    public void TheMaskOfASmallVocabularyIsExactlyTheTokensThatFit()
    {
        var trie = Vocabulary("{", "{\"", "{\"a", "\"a\"", "}", "1", "12", "123", " ", "\n  ", "\":", ":1}", "x");
        var grammar = new GuidedGrammar(GrammarCompiler.Compile(GuidanceSpec.JsonSchema(
            """{"type":"object","properties":{"a":{"type":"integer","maximum":15}},"required":["a"]}""")), trie);
        var matcher = new GuidanceMatcher(grammar);
        Assert.Equal([0, 1, 2, 13 + '{'], Ids(matcher.AllowedTokens())); // "{", "{\"", "{\"a" and the byte '{'
        matcher.Advance(2); // {"a
        Assert.Equal([10, 13 + '"'], Ids(matcher.AllowedTokens())); // "\":" and the byte '"'; never ":1}"
        matcher.Advance(10); // ":
        var ids = Ids(matcher.AllowedTokens());
        Assert.Contains(5, ids); // "1"
        Assert.Contains(6, ids); // "12"
        Assert.DoesNotContain(7, ids); // "123" is above the maximum 15
        Assert.Contains(8, ids); // a space
        Assert.Contains(9, ids); // a newline and two spaces
        matcher.Advance(6); // 12
        Assert.False(matcher.CanStop);
        matcher.Advance(4); // }
        Assert.True(matcher.CanStop);
        Assert.True(matcher.IsComplete);
        Assert.Empty(Ids(matcher.AllowedTokens())); // complete: no text token, only a stop token (the sampler's)
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void TheWalkEqualsBruteForceAlongRandomOutputsOfTheTinyVocabulary(string spec) =>
        CompareAlongRandomPaths(spec, TokenTrie.FromTokenizer(tiny.Tokenizer), seeds: 6);

    [Theory]
    [MemberData(nameof(Specs))]
    public void TheWalkEqualsBruteForceOverASyntheticVocabulary(string spec) =>
        CompareAlongRandomPaths(spec, s_synthetic.Value, seeds: 2);

    [Fact]
    public void ARecurringStateIsAnsweredFromTheCache()
    {
        var grammar = new GuidedGrammar(GrammarCompiler.Compile(GuidanceSpec.JsonSchema("""{"type":"string"}""")), s_synthetic.Value);
        var matcher = new GuidanceMatcher(grammar);
        matcher.Advance(s_synthetic.Value.TokenBytes('"') is not null ? '"' : throw new InvalidOperationException());
        var first = Ids(matcher.AllowedTokens());
        var walks = grammar.Walks;
        var letter = first.First(id => s_synthetic.Value.TokenBytes(id)!.All(b => b is >= (byte)'a' and <= (byte)'z'));
        matcher.Advance(letter); // inside an unbounded string the state recurs
        Assert.Equal(first, Ids(matcher.AllowedTokens()));
        Assert.Equal(walks, grammar.Walks);
        Assert.True(grammar.CacheHits >= 1);
        Assert.True(first.Count > s_synthetic.Value.VocabularySize / 2, $"{first.Count} tokens allowed inside a string");
    }

    [Fact]
    public void SpecialAndUnknownIdsAreNeverText()
    {
        var trie = TokenTrie.FromTokenizer(tiny.Tokenizer, vocabularySize: 600);
        var grammar = new GuidedGrammar(GrammarCompiler.Compile(GuidanceSpec.Regex("[^x]*")), trie);
        var allowed = Ids(new GuidanceMatcher(grammar).AllowedTokens());
        Assert.DoesNotContain(tiny.Info.EndOfText, allowed);
        Assert.DoesNotContain(tiny.Tokenizer.EndOfTurn, allowed);
        Assert.All(allowed, id => Assert.True(id < tiny.Tokenizer.VocabSize));
        Assert.Equal(-1, grammar.Advance(grammar.Start, tiny.Tokenizer.EndOfTurn));
    }

    private static void CompareAlongRandomPaths(string specText, TokenTrie trie, int seeds)
    {
        var grammar = new GuidedGrammar(GrammarCompiler.Compile(Spec(specText)), trie);
        for (var seed = 0; seed < seeds; seed++)
        {
            var random = new Random(seed);
            var state = grammar.Start;
            var text = new StringBuilder();
            for (var step = 0; step < 12 && !grammar.IsComplete(state); step++)
            {
                var walked = Ids(grammar.Mask(state));
                var brute = Ids(BruteForceMask(grammar, state));
                Assert.True(brute.SequenceEqual(walked), $"{specText} after '{text}': walk {walked.Count} ids, brute force {brute.Count}");
                var token = walked[random.Next(walked.Count)];
                state = grammar.Advance(state, token);
                text.Append(Encoding.UTF8.GetString(trie.TokenBytes(token)!));
            }
        }
    }
}

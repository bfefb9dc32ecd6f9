using Llama4Cluster.Core.Guidance;

using static Llama4Cluster.Core.Tests.Guidance.GuidanceKit;

namespace Llama4Cluster.Core.Tests.Guidance;

/// <summary>The regex subset (matched against the whole output) and choices.</summary>
public sealed class RegexGrammarTests
{
    [Theory]
    [InlineData("abc", "abc", true)]
    [InlineData("abc", "abcd", false)]
    [InlineData("^a|b$", "b", true)]
    [InlineData("(cat|dog)s?", "dogs", true)]
    [InlineData("(?:cat|dog)s?", "cats", true)]
    [InlineData("(?<animal>cat|dog)!", "cat!", true)]
    [InlineData("[a-c]+x*", "abcabcxx", true)]
    [InlineData("[a-c]+x*", "d", false)]
    [InlineData("[^0-9]{2}", "ab", true)]
    [InlineData("[^0-9]{2}", "a1", false)]
    [InlineData("[^a]", "é", true)] // a negated class spans all of Unicode
    [InlineData("\\d{3}-\\d{4}", "555-1234", true)]
    [InlineData("\\d{3}-\\d{4}", "555-123", false)]
    [InlineData("\\w+@\\w+\\.com", "ann@example.com", true)]
    [InlineData("a{2,}", "aaaa", true)]
    [InlineData("a{2,}", "a", false)]
    [InlineData("a{1,3}?b", "aab", true)]
    [InlineData("\\s\\S", " x", true)]
    [InlineData("[\\d.]+", "3.14", true)]
    [InlineData(".", "\n", false)]
    [InlineData("[中文]+", "中文中", true)]
    [InlineData("\\x41\\u00e9", "Aé", true)]
    [InlineData("[+*?]", "*", true)]
    [InlineData("a\\.b", "a.b", true)]
    [InlineData("a\\.b", "axb", false)]
    [InlineData("x{", "x{", true)] // not a quantifier: a literal brace
    public void Patterns(string pattern, string text, bool valid) => Assert.Equal(valid, Matches(GuidanceSpec.Regex(pattern), text));

    [Theory]
    [InlineData("yes", true)]
    [InlineData("no", true)]
    [InlineData("maybe so", true)]
    [InlineData("ye", false)]
    [InlineData("yess", false)]
    public void Choices(string text, bool valid) => Assert.Equal(valid, Matches(GuidanceSpec.Choice(["yes", "no", "maybe so"]), text));

    [Fact]
    public void EverySubsetOfAUnicodeRangeEncodesToItsUtf8Bytes()
    {
        // The UTF-8 range splitter against the encoder, at every length boundary and around the surrogates.
        foreach (var (lo, hi) in new[] { (0x70, 0x90), (0x7F0, 0x810), (0xD700, 0xE100), (0xFFF0, 0x10010), (0x10FFF0, 0x10FFFF) })
        {
            var spec = GuidanceSpec.Regex($"[\\u{lo:x4}-\\u{Math.Min(hi, 0xFFFF):x4}]");
            for (var c = lo; c <= Math.Min(hi, 0xFFFF); c++)
            {
                var surrogate = c is >= 0xD800 and <= 0xDFFF;
                if (!surrogate)
                {
                    Assert.True(Matches(spec, char.ConvertFromUtf32(c)), $"U+{c:X4}");
                }
            }
        }

        var sequences = Utf8Ranges.Sequences(0, Utf8Ranges.MaxScalar);
        var count = 0L;
        foreach (var seq in sequences)
        {
            count += seq.Aggregate(1L, (n, r) => n * (r.Hi - r.Lo + 1));
        }

        Assert.Equal(0x110000 - 0x800, count); // every scalar value once, no surrogate
    }
}

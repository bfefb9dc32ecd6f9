using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Tests.Tokenization;

public sealed class Llama4PreTokenizerTests
{
    [Theory]
    [InlineData("Hello world!", new[] { "Hello", " world", "!" })]
    [InlineData("1234567", new[] { "123", "456", "7" })]
    [InlineData("it's THEY'LL we'D", new[] { "it's", " THEY'LL", " we'D" })]
    [InlineData("HelloWorld camelCase", new[] { "Hello", "World", " camel", "Case" })]
    [InlineData("a  b\n\n  c", new[] { "a", " ", " b", "\n\n", " ", " c" })]
    [InlineData("x = y;\n// end", new[] { "x", " =", " y", ";\n//", " end" })]
    [InlineData("trailing   ", new[] { "trailing", "   " })]
    public void Splits_like_the_o200k_pattern(string text, string[] pieces)
    {
        Assert.Equal(pieces, Llama4PreTokenizer.Split(text));
    }

    [Theory]
    // A non-letter prefix attaches to the following word: code-point matching keeps the emoji with "a".
    [InlineData("🦙a", new[] { "🦙a" })]
    // Astral letters (math bold, CJK extension B) are letters, not punctuation.
    [InlineData("x 𝐀𝐁c", new[] { "x", " 𝐀𝐁c" })]
    [InlineData("𠀋𠀋 ok", new[] { "𠀋𠀋", " ok" })]
    [InlineData("🚀🚀 go", new[] { "🚀🚀", " go" })]
    // (?i:'s) folds like Rust's regex: the long s U+017F ends a contraction.
    [InlineData("it'\u017F ok", new[] { "it'\u017F", " ok" })]
    public void Matches_astral_characters_as_single_code_points(string text, string[] pieces)
    {
        Assert.Equal(pieces, Llama4PreTokenizer.Split(text));
        Assert.Equal(text, string.Concat(Llama4PreTokenizer.Split(text)));
    }

    [Fact]
    public void Breaks_runs_longer_than_meta_limit()
    {
        var run = new string('a', Llama4PreTokenizer.MaxConsecutiveChars + 10);
        var blocks = Llama4PreTokenizer.SplitBlocks(run + " b").ToList();
        Assert.Equal([Llama4PreTokenizer.MaxConsecutiveChars, 12], blocks.Select(b => b.Length));
        Assert.Equal(run + " b", string.Concat(blocks));

        // Surrogate pairs count as one character and are never cut.
        var emoji = string.Concat(Enumerable.Repeat("🦙", Llama4PreTokenizer.MaxConsecutiveChars + 1));
        var emojiBlocks = Llama4PreTokenizer.SplitBlocks(emoji).ToList();
        Assert.Equal([2 * Llama4PreTokenizer.MaxConsecutiveChars, 2], emojiBlocks.Select(b => b.Length));
    }
}

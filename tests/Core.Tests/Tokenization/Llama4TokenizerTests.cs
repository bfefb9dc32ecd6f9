using System.Text;
using System.Text.RegularExpressions;
using Llama4Cluster.Core.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Llama4Cluster.Core.Tests.Tokenization;

public sealed class Llama4TokenizerTests(TinyTokenizerFixture fixture) : IClassFixture<TinyTokenizerFixture>
{
    /// <summary>Mixed text for corpus comparisons: ASCII, accents, CJK, emoji, digits, contractions, odd spacing.</summary>
    public static readonly string[] Corpus =
    [
        "Hello world!",
        "You are a helpful assistant. Who are you?",
        "The quick brown fox jumps over the lazy dog; it's 12345678 o'clock, isn't it? They'll say we'd've LEFT.",
        "Café déjà vu: é, è, ê, ü, ß, Ωmega, Москва, Ελλάδα.",
        "東京は日本の首都です。 東京タワー",
        "Emoji: 🦙🚀👍🏽 and 👨‍👩‍👧 family; math 𝐀𝐁𝐂 letters; rare 𠀋 han.",
        "  leading spaces\n\n\ntrailing\t\ttabs   \r\n  \n",
        "def hello(name):\n    return \"Hello, \" + name + \"!\"  # comment\n",
        "a/b\\c   //  ///\n/path/to/file.txt 3.14159 1,000,000",
        "<|eot|> <|begin_of_text|><|header_start|>user<|header_end|>",
        "",
        " ",
        "\u00A0non-breaking\u2003em-space\u3000ideographic",
    ];

    private Llama4Tokenizer Tokenizer => fixture.Tokenizer;

    [Theory]
    [InlineData("Hello world! The world says hello.")]
    [InlineData("café, naïve, résumé, é")]
    [InlineData("東京 and 大阪")]
    [InlineData("emoji 🦙🚀 and flags 🇫🇷, skin tone 👍🏽")]
    [InlineData("mixed\r\n\ttabs  and   spaces 12345")]
    public void Encode_then_decode_round_trips(string text)
    {
        var ids = Tokenizer.Encode(text);
        Assert.All(ids, id => Assert.False(Tokenizer.IsSpecial(id)));
        Assert.Equal(text, Tokenizer.Decode(ids));
    }

    [Fact]
    public void Frequent_sample_words_are_single_tokens()
    {
        foreach (var word in new[] { "Hello", " world", " the" })
        {
            var ids = Tokenizer.Encode(word);
            Assert.True(ids.Count == 1, $"\"{word}\" took {ids.Count} tokens");
            Assert.Equal(word, Tokenizer.Decode(ids));
        }

        Assert.Equal([.. Tokenizer.Encode("Hello"), .. Tokenizer.Encode(" world"), .. Tokenizer.Encode("!")], Tokenizer.Encode("Hello world!"));
    }

    [Fact]
    public void Utf8_characters_not_in_the_vocabulary_fall_back_to_bytes()
    {
        var ids = Tokenizer.Encode("東");
        Assert.Equal(Encoding.UTF8.GetBytes("東").Select(b => (int)b), ids);
    }

    [Fact]
    public void Special_token_text_is_encoded_as_plain_text()
    {
        const string text = "Say <|eot|> then <|begin_of_text|><|header_start|>";
        var ids = Tokenizer.Encode(text);
        Assert.DoesNotContain(ids, Tokenizer.IsSpecial);
        Assert.DoesNotContain(Tokenizer.EndOfTurn, ids);
        Assert.Equal(text, Tokenizer.Decode(ids));
    }

    [Fact]
    public void Decode_writes_special_tokens_unless_skipped()
    {
        List<int> ids = [Tokenizer.BeginOfText, .. Tokenizer.Encode("Hello"), Tokenizer.EndOfTurn];
        Assert.Equal("<|begin_of_text|>Hello<|eot|>", Tokenizer.Decode(ids));
        Assert.Equal("Hello", Tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Decode([TinyTokenizerFixture.VocabSize]));
    }

    [Fact]
    public void Special_ids_come_from_the_files_and_are_the_last_ids()
    {
        var info = fixture.Info;
        Assert.Equal(TinyTokenizerFixture.VocabSize, Tokenizer.VocabSize);
        Assert.Equal(info.BeginOfText, Tokenizer.BeginOfText);
        Assert.Equal(info.EndOfText, Tokenizer.EndOfText);
        Assert.Equal(info.EosTokenIds, Tokenizer.StopTokenIds);
        Assert.Equal(info.Patch, Tokenizer.TryGetSpecialTokenId("<|patch|>"));
        Assert.Equal(TinyTokenizerFixture.VocabSize - 1, info.Patch);
        Assert.Equal(Tokenizer.EndOfMessage + 1, Tokenizer.EndOfTurn);
        Assert.Equal(Tokenizer.HeaderStart + 1, Tokenizer.HeaderEnd);
        Assert.Null(Tokenizer.TryGetSpecialTokenId("<|not_a_token|>"));
        Assert.True(Tokenizer.IsSpecial(info.Pad));
        Assert.False(Tokenizer.IsSpecial(Tokenizer.Encode("Hello")[0]));
    }

    [Fact]
    public void Tokenizer_json_and_tokenizer_model_give_identical_ids()
    {
        var json = fixture.JsonTokenizer;
        Assert.Equal(Tokenizer.VocabSize, json.VocabSize);
        Assert.Equal(Tokenizer.SpecialTokens.OrderBy(kv => kv.Value), json.SpecialTokens.OrderBy(kv => kv.Value));
        foreach (var text in Corpus.Append(ReadSample()))
        {
            Assert.Equal(Tokenizer.Encode(text), json.Encode(text));
        }

        for (var id = 0; id < Tokenizer.VocabSize; id++)
        {
            Assert.Equal(Tokenizer.GetTokenBytes(id).ToArray(), json.GetTokenBytes(id).ToArray());
        }
    }

    [Fact]
    public void A_bare_tokenizer_model_in_original_gets_the_meta_special_list()
    {
        var dir = Path.Combine(fixture.Root, "bare-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(dir, "original"));
        File.Copy(Path.Combine(fixture.Directory, "tokenizer.model"), Path.Combine(dir, "original", "tokenizer.model"));
        Assert.True(Llama4Tokenizer.ExistsIn(dir));

        var bare = Llama4Tokenizer.Load(dir);
        var baseCount = bare.BaseVocabSize;
        Assert.Equal(TinyTokenizerFixture.VocabSize - Llama4SpecialTokens.Essential.Count, baseCount);
        Assert.Equal(baseCount + Llama4SpecialTokens.ReservedCount, bare.VocabSize);
        Assert.Equal(baseCount, bare.BeginOfText);
        Assert.Equal(baseCount + 8, bare.EndOfTurn);
        Assert.Equal(baseCount + 92, bare.TryGetSpecialTokenId("<|patch|>"));
        Assert.Equal(Tokenizer.Encode(Corpus[2]), bare.Encode(Corpus[2]));
    }

    [Fact]
    public void Matches_Microsoft_ML_Tokenizers_tiktoken_on_bmp_text()
    {
        // An independent tiktoken implementation over the same file and regex. Only BMP text: .NET's regex sees an
        // astral character as two surrogates, which Llama4PreTokenizer corrects and ML.NET does not.
        using var stream = File.OpenRead(Path.Combine(fixture.Directory, "tokenizer.model"));
        var reference = TiktokenTokenizer.Create(stream, new RegexPreTokenizer(new Regex(Llama4PreTokenizer.Pattern), null), normalizer: null);
        foreach (var text in Corpus.Where(t => !t.Any(char.IsSurrogate) && !t.Contains("<|", StringComparison.Ordinal)).Append(ReadSample()))
        {
            Assert.Equal(reference.EncodeToIds(text), Tokenizer.Encode(text));
        }
    }

    [Fact]
    public void Incremental_decoding_holds_back_split_multibyte_characters()
    {
        // With only byte tokens for these characters, each UTF-8 byte is its own token.
        const string text = "a東京é🦙!";
        var ids = Tokenizer.Encode(text);
        Assert.True(ids.Count > text.Length, "expected byte-level fallback tokens");

        var decoder = Tokenizer.CreateIncrementalDecoder();
        var pieces = ids.Select(decoder.Add).ToList();
        Assert.DoesNotContain(pieces, p => p.Contains('\uFFFD', StringComparison.Ordinal));
        Assert.Contains(string.Empty, pieces);
        Assert.Equal(text, string.Concat(pieces) + decoder.Flush());

        // The first two bytes of 東 (E6 9D B1) produce nothing; the third completes it.
        var partial = Tokenizer.CreateIncrementalDecoder();
        Assert.Equal(string.Empty, partial.Add(0xE6));
        Assert.Equal(string.Empty, partial.Add(0x9D));
        Assert.Equal("東", partial.Add(0xB1));

        // A stream that ends mid-character flushes one replacement character.
        var cut = Tokenizer.CreateIncrementalDecoder();
        Assert.Equal(string.Empty, cut.Add(0xE6));
        Assert.Equal("\uFFFD", cut.Flush());
    }

    [Fact]
    public void Incremental_decoding_can_skip_special_tokens()
    {
        var decoder = Tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true);
        var text = string.Concat(new[] { Tokenizer.BeginOfText }.Concat(Tokenizer.Encode("Hello world")).Append(Tokenizer.EndOfTurn).Select(decoder.Add));
        Assert.Equal("Hello world", text);
    }

    [Fact]
    public void Is_thread_safe_under_parallel_encoding()
    {
        var expected = Corpus.Select(t => Tokenizer.Encode(t).ToArray()).ToArray();
        Parallel.For(0, 200, i =>
        {
            var k = i % Corpus.Length;
            Assert.Equal(expected[k], Tokenizer.Encode(Corpus[k]));
        });
    }

    private static string ReadSample() =>
        (string)typeof(TinyTokenizerWriter).Assembly.GetType("Llama4Cluster.Core.Tokenization.TinyTokenizerSample")!
            .GetField("Text")!.GetRawConstantValue()!;
}

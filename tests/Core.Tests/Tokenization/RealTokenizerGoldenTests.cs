using System.Diagnostics;
using System.Text.RegularExpressions;
using Llama4Cluster.Core.Tokenization;
using Microsoft.ML.Tokenizers;

namespace Llama4Cluster.Core.Tests.Tokenization;

/// <summary>Spec §4.1/§4.2 golden ids, computed from META's tokenizer.model with tiktoken.</summary>
public sealed class RealTokenizerGoldenTests
{
    private static readonly Lazy<Llama4Tokenizer> Real = new(() =>
    {
        var path = Environment.GetEnvironmentVariable(RealTokenizerFactAttribute.EnvironmentVariable)!;
        return File.Exists(path) ? Llama4Tokenizer.LoadTiktokenFile(path) : Llama4Tokenizer.Load(path);
    });

    [RealTokenizerFact]
    public void Special_token_ids_and_vocab_size_match_the_spec()
    {
        var t = Real.Value;
        Assert.Equal(200_000, t.BaseVocabSize);
        Assert.Equal(202_048, t.VocabSize);
        Assert.Equal(200_000, t.BeginOfText);
        Assert.Equal(200_001, t.EndOfText);
        Assert.Equal(200_005, t.HeaderStart);
        Assert.Equal(200_006, t.HeaderEnd);
        Assert.Equal(200_007, t.EndOfMessage);
        Assert.Equal(200_008, t.EndOfTurn);
        Assert.Equal([200_001, 200_007, 200_008], t.StopTokenIds);
        Assert.Equal(200_018, t.TryGetSpecialTokenId("<|finetune_right_pad|>"));
        Assert.Equal(200_080, t.TryGetSpecialTokenId("<|image_start|>"));
        Assert.Equal(200_081, t.TryGetSpecialTokenId("<|image_end|>"));
        Assert.Equal(200_084, t.TryGetSpecialTokenId("<|tile_x_separator|>"));
        Assert.Equal(200_085, t.TryGetSpecialTokenId("<|tile_y_separator|>"));
        Assert.Equal(200_090, t.TryGetSpecialTokenId("<|image|>"));
        Assert.Equal(200_092, t.TryGetSpecialTokenId("<|patch|>"));
        Assert.Equal(201_142, t.TryGetSpecialTokenId("<|reasoning_thinking_start|>"));
        Assert.Equal(202_047, t.TryGetSpecialTokenId("<|reserved_special_token_903|>"));
    }

    [RealTokenizerFact]
    public void Golden_word_ids_match_spec_4_1()
    {
        var golden = new (string Text, int[] Ids)[]
        {
            ("user", [1556]), ("assistant", [140680]), ("system", [15651]), ("ipython", [607, 6934]),
            ("\n\n", [368]), ("\n", [198]), ("Hello", [19873]), (" world", [3817]), ("!", [13]), ("You", [4662]),
            (" are", [583]), (" a", [262]), (" helpful", [19933]), (" assistant", [43910]), ("Who", [33267]),
            (" you", [650]), ("?", [43]), ("  ", [256]), ("\t", [197]), ("é", [397]), (" 東京", [124590]),
        };
        foreach (var (text, ids) in golden)
        {
            Assert.True(ids.SequenceEqual(Real.Value.Encode(text)), $"Encode({Escape(text)}) = [{string.Join(", ", Real.Value.Encode(text))}], expected [{string.Join(", ", ids)}]");
        }

        Assert.Equal([19873, 3817, 13], Real.Value.Encode("Hello world!"));
    }

    [RealTokenizerFact]
    public void Chat_prompt_ids_match_spec_4_2()
    {
        ChatMessage[] messages = [new("system", "You are a helpful assistant"), new("user", "Who are you?")];
        int[] expected =
        [
            200000, 200005, 15651, 200006, 368, 4662, 583, 262, 19933, 43910, 200008, 200005, 1556,
            200006, 368, 33267, 583, 650, 43, 200008, 200005, 140680, 200006, 368,
        ];
        Assert.Equal(expected, ChatTemplate.Encode(Real.Value, messages));
        Assert.Equal(ChatTemplate.Render(messages), Real.Value.Decode(expected));
    }

    [RealTokenizerFact]
    public void Round_trips_mixed_scripts_and_emoji()
    {
        const string text = "Llama 4 says héllo to 東京, Москва and 🦙🚀 — 12345 tokens!\n\tdone";
        Assert.Equal(text, Real.Value.Decode(Real.Value.Encode(text)));
    }

    [RealTokenizerFact]
    public void Matches_Microsoft_ML_Tokenizers_tiktoken_on_bmp_text()
    {
        var path = Environment.GetEnvironmentVariable(RealTokenizerFactAttribute.EnvironmentVariable)!;
        using var stream = File.OpenRead(File.Exists(path) ? path : Path.Combine(path, "original", "tokenizer.model"));
        var reference = TiktokenTokenizer.Create(stream, new RegexPreTokenizer(new Regex(Llama4PreTokenizer.Pattern), null), normalizer: null);
        foreach (var text in Llama4TokenizerTests.Corpus.Where(t => !t.Any(char.IsSurrogate) && !t.Contains("<|", StringComparison.Ordinal)))
        {
            Assert.Equal(reference.EncodeToIds(text), Real.Value.Encode(text));
        }
    }

    [RealTokenizerFact]
    public void Long_runs_encode_in_reasonable_time()
    {
        var text = new string('a', 30_000) + " " + string.Concat(Enumerable.Repeat("東京", 5_000));
        var watch = Stopwatch.StartNew();
        var ids = Real.Value.Encode(text);
        watch.Stop();
        Assert.Equal(text, Real.Value.Decode(ids));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
    }

    private static string Escape(string s) => s.Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
}

using System.Text.Json;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Tests.Tokenization;

public sealed class TinyTokenizerWriterTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "l4c-tinytok-" + Guid.NewGuid().ToString("N"));

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void Special_tokens_take_the_last_ids_in_the_real_relative_order()
    {
        var info = TinyTokenizerWriter.Write(Path.Combine(_root, "a"), 512);
        var tokenizer = Llama4Tokenizer.Load(Path.Combine(_root, "a"));
        var essential = Llama4SpecialTokens.Essential;
        for (var i = 0; i < essential.Count; i++)
        {
            Assert.Equal(512 - essential.Count + i, tokenizer.TryGetSpecialTokenId(essential[i]));
        }

        // Same relative order as META's list.
        var metaPositions = essential.Select(s => Llama4SpecialTokens.MetaList.ToList().IndexOf(s)).ToList();
        Assert.Equal(metaPositions.Order(), metaPositions);
        Assert.Equal((493, 494, 505, 506, 507, 511), (info.BeginOfText, info.EndOfText, info.Pad, info.ImageStart, info.ImageEnd, info.Patch));
        Assert.Equal([494, 500, 501], info.EosTokenIds);
    }

    [Fact]
    public void Output_is_deterministic_and_files_agree()
    {
        TinyTokenizerWriter.Write(Path.Combine(_root, "a"), 400);
        TinyTokenizerWriter.Write(Path.Combine(_root, "b"), 400);
        foreach (var name in new[] { "tokenizer.model", "tokenizer.json", "tokenizer_config.json" })
        {
            Assert.Equal(File.ReadAllBytes(Path.Combine(_root, "a", name)), File.ReadAllBytes(Path.Combine(_root, "b", name)));
        }

        var lines = File.ReadAllLines(Path.Combine(_root, "a", "tokenizer.model"));
        Assert.Equal(400 - Llama4SpecialTokens.Essential.Count, lines.Length);
        Assert.Equal("AA== 0", lines[0]);
        Assert.Equal("IA== 32", lines[32]);

        using var json = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_root, "a", "tokenizer.json")));
        var model = json.RootElement.GetProperty("model");
        Assert.Equal(lines.Length, model.GetProperty("vocab").EnumerateObject().Count());
        Assert.Equal(32, model.GetProperty("vocab").GetProperty("Ġ").GetInt32());
        Assert.True(model.GetProperty("merges").GetArrayLength() >= lines.Length - 256);
        Assert.Equal(Llama4SpecialTokens.Essential.Count, json.RootElement.GetProperty("added_tokens").GetArrayLength());
    }

    [Fact]
    public void Rejects_vocabularies_too_small_or_too_large_for_the_sample()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TinyTokenizerWriter.Write(Path.Combine(_root, "s"), TinyTokenizerWriter.MinVocabSize - 1));
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => TinyTokenizerWriter.Write(Path.Combine(_root, "l"), 1_000_000));
        Assert.Contains("smaller vocabulary", e.Message, StringComparison.Ordinal);

        // The minimum is byte-level only: every piece of text still round-trips.
        TinyTokenizerWriter.Write(Path.Combine(_root, "m"), TinyTokenizerWriter.MinVocabSize);
        var bytesOnly = Llama4Tokenizer.Load(Path.Combine(_root, "m"));
        Assert.Equal("Hello".Select(c => (int)c), bytesOnly.Encode("Hello"));
    }
}

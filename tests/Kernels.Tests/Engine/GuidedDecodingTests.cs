using System.Text;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Tests.Guidance;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;

namespace Llama4Cluster.Kernels.Tests.Engine;

/// <summary>
/// Structured output from a random-weight tiny-scout (with its tiny tokenizer): what it writes under a JSON schema parses
/// and validates, greedy and seeded; a guided sequence re-prefilled on another rank continues exactly; a rank without a
/// tokenizer fails the guided sequence alone.
/// </summary>
public sealed class GuidedDecodingTests : IDisposable
{
    /// <summary>Bounded: at most about 170 bytes whatever the model does (short string, bounded whitespace).</summary>
    internal const string Schema = """
        {"type":"object","properties":{"name":{"type":"string","maxLength":4},"age":{"type":"integer","minimum":1,"maximum":99},
         "color":{"enum":["red","green"]}},"required":["name","age","color"],"additionalProperties":false}
        """;

    private readonly string _dir = Path.Combine(Path.GetTempPath(), "l4c-guided-" + Guid.NewGuid().ToString("N"));
    private readonly LocalEngine _engine;

    public GuidedDecodingTests()
    {
        Directory.CreateDirectory(_dir);
        var ids = TinyTokenizerWriter.Write(_dir, Llama4Presets.TinyScout.VocabSize);
        var config = Llama4Presets.TinyScout with { BosTokenId = ids.BeginOfText, EosTokenIds = [.. ids.EosTokenIds], PadTokenId = ids.Pad };
        TinyCheckpointWriter.Write(_dir, config, new TinyCheckpointOptions { Seed = 5 });
        _engine = LocalEngine.Load(_dir, new LocalEngineOptions());
    }

    public void Dispose()
    {
        _engine.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private int[] Prompt => [.. ChatTemplate.Encode(_engine.Tokenizer!, [new ChatMessage("user", "Describe a person as JSON.")])];

    [Fact]
    public async Task GreedyAndSeededOutputsParseAndValidate()
    {
        var spec = GuidanceSpec.JsonSchema(Schema);
        var requests = new List<GenerationRequest> { new(Prompt, new SamplingParams { Temperature = 0, MaxTokens = 200 }, spec) };
        requests.AddRange(Enumerable.Range(1, 4).Select(seed => new GenerationRequest(Prompt, new SamplingParams { Temperature = 1, Seed = seed, MaxTokens = 200 }, spec)));
        var results = await _engine.GenerateAsync(requests);
        foreach (var r in results)
        {
            var text = _engine.Tokenizer!.Decode(r.Tokens);
            Assert.Equal(FinishReason.Stop, r.FinishReason); // the schema is bounded: it completed within max tokens
            Assert.Empty(SchemaCheck.Errors(Schema, text));
        }

        // Unguided, the same model writes no JSON at all.
        var plain = await _engine.GenerateAsync([new GenerationRequest(Prompt, new SamplingParams { Temperature = 0, MaxTokens = 30 })]);
        Assert.NotEmpty(SchemaCheck.Errors(Schema, _engine.Tokenizer!.Decode(plain[0].Tokens)));
    }

    [Fact]
    public async Task AGuidedSequenceReprefilledElsewhereContinuesExactly()
    {
        var sampling = new SamplingParams { Temperature = 1.1f, Seed = 31, MaxTokens = 40 };
        var spec = GuidanceSpec.Regex("[a-z ]{8,30}\\.");
        var eos = _engine.EosTokenIds;
        async Task<List<int>> Decode(AttentionRankCore core, long id, SequenceWork first, int count)
        {
            var tokens = new List<int>();
            var result = await core.StepAsync(new RankStep(1, [first]));
            tokens.Add(result.Samples[0].Token.TokenId);
            for (int i = 1; i < count && !eos.Contains(tokens[^1]); i++)
            {
                result = await core.StepAsync(new RankStep(1 + i, [new SequenceWork(id, new[] { tokens[^1] }, null, Sample: true)]));
                tokens.Add(result.Samples[0].Token.TokenId);
            }

            return tokens;
        }

        var guidance = new GuidanceEngine(TokenTrie.FromTokenizer(_engine.Tokenizer!, _engine.Model.Config.VocabSize));
        using var whole = new AttentionRankCore(_engine.Model, guidance: guidance);
        var reference = await Decode(whole, 1, new SequenceWork(1, Prompt, new SequenceSettings(sampling, eos, Guidance: spec), Sample: true), 40);
        Assert.True(reference.Count > 6);
        Assert.Matches("^[a-z ]{8,30}\\.$", _engine.Tokenizer!.Decode(reference.Where(t => !eos.Contains(t))));

        // A fresh rank (its own engine, so no state is shared) gets the prompt and 5 generated tokens: the grammar replays them.
        var other = new GuidanceEngine(TokenTrie.FromTokenizer(_engine.Tokenizer!, _engine.Model.Config.VocabSize));
        using var resumedCore = new AttentionRankCore(_engine.Model, guidance: other);
        var resumed = await Decode(resumedCore, 2,
            new SequenceWork(2, Prompt.Concat(reference[..5]).ToArray(), new SequenceSettings(sampling, eos, GeneratedTokens: 5, Guidance: spec), Sample: true),
            reference.Count - 5);
        Assert.Equal(reference[5..], resumed);
    }

    [Fact]
    public async Task ARankWithoutATokenizerFailsTheGuidedSequenceAlone()
    {
        using var core = new AttentionRankCore(_engine.Model);
        var guided = new SequenceSettings(new SamplingParams(), _engine.EosTokenIds, Guidance: GuidanceSpec.JsonObject());
        var result = await core.StepAsync(new RankStep(1,
            [new SequenceWork(1, Prompt, guided, Sample: true), new SequenceWork(2, Prompt, new SequenceSettings(new SamplingParams(), _engine.EosTokenIds), Sample: true)]));
        Assert.Equal([2L], result.Samples.Select(s => s.SequenceId));
        var failure = Assert.Single(result.Failures!);
        Assert.Equal(1, failure.SequenceId);
        Assert.Contains("no tokenizer", failure.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void TheTokenTrieOfTheTinyTokenizerSpellsEveryTextToken()
    {
        var tokenizer = _engine.Tokenizer!;
        var trie = TokenTrie.FromTokenizer(tokenizer, _engine.Model.Config.VocabSize);
        Assert.Equal(_engine.Model.Config.VocabSize, trie.VocabularySize);
        for (int id = 0; id < tokenizer.VocabSize; id++)
        {
            if (tokenizer.IsSpecial(id)) Assert.Null(trie.TokenBytes(id));
            else Assert.Equal(Encoding.Latin1.GetString(tokenizer.GetTokenBytes(id)), Encoding.Latin1.GetString(trie.TokenBytes(id)!));
        }
    }
}

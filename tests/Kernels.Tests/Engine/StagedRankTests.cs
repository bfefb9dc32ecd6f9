using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Tests.Model;

namespace Llama4Cluster.Kernels.Tests.Engine;

/// <summary>
/// A rank split into pipeline stages in one process: each stage loads only its layers' tensors, and the chain of stage
/// cores (hidden states handed on once per pass) computes exactly what the whole model does — the same operations in the
/// same order, so fp32 logits and tokens are bit-for-bit equal.
/// </summary>
public sealed class StagedRankTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "l4c-stages-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Write(string preset)
    {
        string dir = Path.Combine(_root, preset);
        if (!Directory.Exists(dir)) TinyCheckpointWriter.Write(dir, Llama4Presets.Get(preset), new TinyCheckpointOptions { Seed = 5, DType = SafetensorsDType.F32 });
        return dir;
    }

    [Theory]
    [InlineData("tiny-maverick", 2)]
    [InlineData("tiny-maverick", 4)]
    [InlineData("tiny-behemoth", 3)]
    [InlineData("tiny-behemoth", 4)]
    public void StagedLogitsEqualTheWholeModelBitForBit(string preset, int stages)
    {
        string dir = Write(preset);
        var tokens = ModelTestData.Tokens(11, seed: 3);
        using var whole = LocalEngine.Load(dir, new LocalEngineOptions { MaxStepTokens = 4 });
        using var staged = LocalEngine.Load(dir, new LocalEngineOptions { MaxStepTokens = 4, Stages = stages });
        Assert.Equal(stages, staged.StageModels.Count);
        Assert.Equal(0, ModelTestData.MaxAbsDiff(staged.Logits(tokens), whole.Logits(tokens)));
    }

    [Theory]
    [InlineData("tiny-maverick", 3)]
    [InlineData("tiny-behemoth", 4)]
    public async Task StagedCoresStepAsTheWholeCoreWithOneHandOffPerBoundaryPerPass(string preset, int stages)
    {
        string dir = Write(preset);
        var prompts = new[] { new[] { 5, 9, 14, 3, 8, 21, 7 }, new[] { 30, 2 }, new[] { 11, 12, 13, 40, 41 } };
        var settings = new SequenceSettings(new SamplingParams { Temperature = 0.8f, Seed = 4, TopLogprobs = 2 }, [2]);
        async Task<(int[] Tokens, float[] Logits)> Run(AttentionRankCore core)
        {
            var step = new RankStep(1, prompts.Select((p, i) => new SequenceWork(i, p, settings, Sample: true, ReturnLogits: i != 1)).ToArray());
            var result = await core.StepAsync(step);
            var tokens = result.Samples.Select(s => s.Token.TokenId).ToList();
            for (int n = 2; n < 6; n++)
            {
                var decode = new RankStep(n, result.Samples.Select(s => new SequenceWork(s.SequenceId, new[] { s.Token.TokenId }, null, true)).ToArray());
                result = await core.StepAsync(decode);
                tokens.AddRange(result.Samples.Select(s => s.Token.TokenId));
            }

            return ([.. tokens], (await core.StepAsync(new RankStep(9, [new SequenceWork(0, new[] { 3, 4 }, null, false, true)]))).Logits!);
        }

        using var whole = LocalEngine.Load(dir, new LocalEngineOptions());
        using var staged = LocalEngine.Load(dir, new LocalEngineOptions { Stages = stages });
        using var wholeCore = new AttentionRankCore(whole.Model, maxPassTokens: _ => 3);
        var (stagedCore, links, cores) = Chain(staged.StageModels, maxPassTokens: 3);
        try
        {
            var expected = await Run(wholeCore);
            var actual = await Run(stagedCore);
            Assert.Equal(expected.Tokens, actual.Tokens);
            Assert.Equal(expected.Logits, actual.Logits); // exact: the same operations in the same order
            // 14 prompt tokens in passes of at most 3 tokens: 5 passes, then 4 decode steps and the logits step of one pass each.
            Assert.All(links, l => Assert.Equal(10, l.HandOffs));
            Assert.All(cores, c => Assert.Equal(3, c.SequenceCount));
            stagedCore.Release([0, 1]);
            Assert.All(cores, c => Assert.Equal(1, c.SequenceCount));
        }
        finally
        {
            foreach (var c in cores) c.Dispose();
        }
    }

    [Fact]
    public async Task GenerationOnAStagedEngineEqualsTheWholeEngine()
    {
        string dir = Write("tiny-behemoth");
        var requests = new[]
        {
            new GenerationRequest([5, 9, 14, 3], new SamplingParams { MaxTokens = 6, IgnoreEos = true }),
            new GenerationRequest([30, 2, 7], new SamplingParams { MaxTokens = 5, Temperature = 0.9f, Seed = 11, IgnoreEos = true }),
        };
        using var whole = LocalEngine.Load(dir, new LocalEngineOptions { PrefixCache = PrefixCacheOptions.Disabled });
        using var staged = LocalEngine.Load(dir, new LocalEngineOptions { Stages = 2 });
        var expected = await whole.GenerateAsync(requests);
        var actual = await staged.GenerateAsync(requests);
        Assert.Equal(expected.Select(r => r.Tokens.ToArray()), actual.Select(r => r.Tokens.ToArray()));
        Assert.Equal(staged.LastTimings!.Steps, Assert.Single(staged.StageLinks).HandOffs);
    }

    [Fact]
    public void AStageLoadsOnlyItsLayersTensors()
    {
        string dir = Write("tiny-behemoth");
        var consumed = new List<IReadOnlySet<string>>();
        foreach (var range in LayerRange.Split(8, 3))
        {
            using var reader = CheckpointReader.Open(dir);
            using var model = Llama4TextModel.Load(new CheckpointWeightSource(reader), new ModelOptions { Layers = range });
            var names = reader.ConsumedNames.ToHashSet();
            Assert.All(names.Where(n => n.Contains(".layers.")), n => Assert.True(range.Contains(LayerOf(n)), $"{range} loaded {n}"));
            Assert.Equal(range.First == 0, names.Any(n => n.Contains("embed_tokens")));
            Assert.Equal(range.End == 8, names.Any(n => n.Contains("lm_head")));
            Assert.Equal(range.Count, model.Layers.Count);
            consumed.Add(names);
        }

        using var all = CheckpointReader.Open(dir);
        Assert.Equal(all.TensorNames.Order(), consumed.SelectMany(c => c).Order()); // every tensor, each by one stage
    }

    [Fact]
    public async Task StagesSplitLayersEvenlyAndCoresRefuseWhatAStageCannotDo()
    {
        Assert.Equal([new LayerRange(0, 3), new LayerRange(3, 3), new LayerRange(6, 2)], LayerRange.Split(8, 3));
        Assert.Throws<ArgumentException>(() => LayerRange.Split(2, 3));
        string dir = Write("tiny-maverick");
        using var staged = LocalEngine.Load(dir, new LocalEngineOptions { Stages = 2 });
        var first = staged.StageModels[0];
        var last = staged.StageModels[1];
        Assert.Contains("needs the hand-off", Assert.Throws<ArgumentException>(() => new AttentionRankCore(first)).Message);
        using var lastCore = new AttentionRankCore(last);
        Assert.Contains("samples; it hands nothing on", Assert.Throws<ArgumentException>(() => new AttentionRankCore(last, next: new LocalStageLink(lastCore))).Message);
        Assert.Contains("prefix caching needs a one-stage rank",
            Assert.Throws<ArgumentException>(() => new AttentionRankCore(first, prefixCache: PrefixCacheOptions.Default, next: new LocalStageLink(lastCore))).Message);
        await Assert.ThrowsAsync<InvalidOperationException>(() => lastCore.StepAsync(new RankStep(1, [new SequenceWork(1, new[] { 3 }, null, true)])));
    }

    [Fact]
    public async Task ALostLaterStageFailsTheStepAndARePrefillStartsOverOnEveryStage()
    {
        string dir = Write("tiny-behemoth");
        using var staged = LocalEngine.Load(dir, new LocalEngineOptions { Stages = 3 });
        var settings = new SequenceSettings(new SamplingParams { Temperature = 0 }, [2]);
        int[] prompt = [5, 9, 14, 3];
        async Task<int[]> Generate(AttentionRankCore core, long id, SequenceSettings start, int[] tokens, int count)
        {
            var result = await core.StepAsync(new RankStep(1, [new SequenceWork(id, tokens, start, true)]));
            var output = new List<int> { result.Samples[0].Token.TokenId };
            while (output.Count < count)
            {
                result = await core.StepAsync(new RankStep(output.Count + 1, [new SequenceWork(id, new[] { output[^1] }, null, true)]));
                output.Add(result.Samples[0].Token.TokenId);
            }

            return [.. output];
        }

        var (reference, _, referenceCores) = Chain(staged.StageModels, maxPassTokens: 64);
        int[] expected;
        try
        {
            expected = await Generate(reference, 1, settings, prompt, 6);
        }
        finally
        {
            foreach (var c in referenceCores) c.Dispose();
        }

        // Stage 2 "dies" during the third step: stages 0 and 1 have advanced their caches, stage 2 has not.
        using var last = new AttentionRankCore(staged.StageModels[2]);
        var flaky = new FlakyLink(last, failAt: 3);
        using var middle = new AttentionRankCore(staged.StageModels[1], next: flaky);
        using var first = new AttentionRankCore(staged.StageModels[0], next: new LocalStageLink(middle));
        var dropped = new List<long>();
        first.SequencesDropped += (ids, _) => dropped.AddRange(ids);
        await Assert.ThrowsAsync<IOException>(() => Generate(first, 1, settings, prompt, 6));
        Assert.Equal([1L], dropped);
        Assert.Equal(0, first.SequenceCount);
        Assert.Equal(0, middle.SequenceCount);
        Assert.Equal(1, last.SequenceCount); // stale: never told

        // The owner of the tokens re-prefills from its record: prompt + the 2 tokens already emitted, resuming the sampler.
        var resumed = new SequenceSettings(settings.Sampling, settings.EosTokenIds, GeneratedTokens: 2);
        var rest = await Generate(first, 1, resumed, [.. prompt, .. expected[..2]], 4);
        Assert.Equal(expected[2..], rest);
    }

    /// <summary>A hand-off whose next stage fails once, at the given hand-off, as a lost silo would.</summary>
    private sealed class FlakyLink(AttentionRankCore next, int failAt) : IRankStageLink
    {
        private int _calls;

        public Task<RankStepResult> HandOffAsync(RankStep pass, int passIndex, TorchSharp.torch.Tensor hidden, CancellationToken cancellationToken) =>
            ++_calls == failAt ? Task.FromException<RankStepResult>(new IOException("stage 2 is gone")) : next.PassAsync(pass, passIndex, hidden, cancellationToken);

        public void Release(IReadOnlyList<long> sequenceIds) => next.Release(sequenceIds);
    }

    private static int LayerOf(string name)
    {
        int at = name.IndexOf(".layers.", StringComparison.Ordinal) + ".layers.".Length;
        return int.Parse(name[at..name.IndexOf('.', at)], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Stage cores chained from the last, as a staged rank's grains are.</summary>
    private static (AttentionRankCore First, List<LocalStageLink> Links, List<AttentionRankCore> Cores) Chain(IReadOnlyList<Llama4TextModel> models, int maxPassTokens)
    {
        var links = new List<LocalStageLink>();
        var cores = new List<AttentionRankCore>();
        AttentionRankCore? next = null;
        for (int s = models.Count - 1; s >= 0; s--)
        {
            var link = next is null ? null : new LocalStageLink(next);
            if (link is not null) links.Add(link);
            next = new AttentionRankCore(models[s], maxPassTokens: _ => maxPassTokens, next: link);
            cores.Add(next);
        }

        return (next!, links, cores);
    }
}

using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Kernels.Tests.Model;
using Llama4Cluster.Kernels.Tests.Reference;

namespace Llama4Cluster.Kernels.Tests.Engine;

/// <summary>
/// The engine end to end: checkpoints on disk in every layout through the real loader, against the
/// float64 oracle reading the same file; batched generation against single-sequence generation.
/// </summary>
public sealed class LocalEngineTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "l4c-engine-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Write(Llama4TextConfig config, TinyCheckpointOptions options)
    {
        string dir = Path.Combine(_root, Guid.NewGuid().ToString("N"));
        TinyCheckpointWriter.Write(dir, config, options);
        return dir;
    }

    [Theory]
    [InlineData("tiny-scout", CheckpointNameLayout.ConditionalGeneration, 1, SafetensorsDType.BF16)]
    [InlineData("tiny-scout-top2", CheckpointNameLayout.CausalLm, 3, SafetensorsDType.F32)]
    [InlineData("tiny-maverick", CheckpointNameLayout.CausalLm, 1, SafetensorsDType.BF16)]
    [InlineData("tiny-maverick-top1", CheckpointNameLayout.ConditionalGeneration, 2, SafetensorsDType.F32)]
    public void CheckpointLogitsMatchTheOracleReadingTheSameFile(string name, CheckpointNameLayout layout, int shards, SafetensorsDType dtype)
    {
        string dir = Write(ModelTestData.Config(name), new TinyCheckpointOptions { Seed = 4, Layout = layout, Shards = shards, DType = dtype });
        ReferenceWeights oracleWeights;
        using (var reader = CheckpointReader.Open(dir)) oracleWeights = new ReferenceWeights(reader);
        var tokens = ModelTestData.Tokens(24, seed: 6);
        var expected = new ReferenceModel(oracleWeights).Logits(tokens);
        using var engine = LocalEngine.Load(dir, new LocalEngineOptions());
        var actual = engine.Logits(tokens);
        double diff = ModelTestData.MaxAbsDiff(actual, expected);
        Assert.True(diff < 1e-4, $"max |logit diff| {diff:E3}");
    }

    [Fact]
    public void LoadingConsumesEveryCheckpointTensor()
    {
        foreach (var config in new[] { Llama4Presets.TinyScout, Llama4Presets.TinyMaverick })
        {
            string dir = Write(config, new TinyCheckpointOptions());
            using var reader = CheckpointReader.Open(dir);
            using var model = Kernels.Model.Llama4TextModel.Load(new CheckpointWeightSource(reader), new Kernels.Model.ModelOptions());
            Assert.Empty(reader.TensorNames.Except(reader.ConsumedNames));
        }
    }

    [Fact]
    public void PerExpertAndFp8ExpertLayoutsLoadAndRun()
    {
        var config = Llama4Presets.TinyMaverick;
        string fused = Write(config, new TinyCheckpointOptions { Seed = 2 });
        string perExpert = Write(config, new TinyCheckpointOptions { Seed = 2, Experts = ExpertStorage.PerExpert });
        string fp8 = Write(config, new TinyCheckpointOptions { Seed = 2, Experts = ExpertStorage.PerExpertFp8 });
        var tokens = ModelTestData.Tokens(12, seed: 1);
        float[][] Run(string dir)
        {
            using var engine = LocalEngine.Load(dir, new LocalEngineOptions());
            return engine.Logits(tokens);
        }
        var a = Run(fused);
        Assert.Equal(0, ModelTestData.MaxAbsDiff(Run(perExpert), a));
        // FP8 experts are a lossy copy of the same weights (E4M3, one scale per row): the run must
        // differ (the FP8 path is taken) and stay finite. A ~3% weight error can flip a top-2 choice
        // among 128 experts, so logits are not compared with a tolerance here; the dequantisation
        // itself is checked exactly in the checkpoint tests.
        var q = Run(fp8);
        Assert.True(ModelTestData.MaxAbsDiff(q, a) > 1e-6);
        Assert.All(q.SelectMany(r => r), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public async Task GreedyGenerationFollowsTheArgmaxOfTheLogits()
    {
        var weights = new ReferenceWeights(Llama4Presets.TinyScout, seed: 3);
        using var engine = LocalEngine.FromModel(ModelTestData.Load(weights));
        var prompt = ModelTestData.Tokens(5, seed: 2);
        var result = (await engine.GenerateAsync([new GenerationRequest(prompt, new SamplingParams { MaxTokens = 6, IgnoreEos = true })]))[0];
        Assert.Equal(6, result.Tokens.Count);
        Assert.Equal(FinishReason.Length, result.FinishReason);
        // Recompute each step from scratch and take the argmax.
        var sequence = prompt.ToList();
        foreach (int generated in result.Tokens)
        {
            var last = engine.Logits(sequence)[^1];
            int argmax = Array.IndexOf(last, last.Max());
            Assert.Equal(argmax, generated);
            sequence.Add(generated);
        }
    }

    [Fact]
    public async Task WarmUpLeavesNoTraceInTheEngine()
    {
        var weights = new ReferenceWeights(Llama4Presets.TinyMaverick, seed: 5);
        using var engine = LocalEngine.FromModel(ModelTestData.Load(weights));
        var request = new GenerationRequest(ModelTestData.Tokens(6, seed: 8), new SamplingParams { MaxTokens = 5, IgnoreEos = true });
        var before = (await engine.GenerateAsync([request]))[0];
        var timings = engine.LastTimings;
        var core = engine.Core;
        Assert.Equal(0, engine.WarmUpSeconds);

        double seconds = engine.WarmUp();

        Assert.True(seconds > 0);
        Assert.Equal(seconds, engine.WarmUpSeconds);
        // Its throwaway generation ran on its own core: the engine's core (and prefix cache) and last timings are the ones
        // the real request left, and the next request generates the same tokens.
        Assert.Same(timings, engine.LastTimings);
        Assert.Same(core, engine.Core);
        var after = (await engine.GenerateAsync([request]))[0];
        Assert.Equal(before.Tokens, after.Tokens);
        Assert.Equal(6, engine.LastTimings!.PrefillTokens);
    }

    [Fact]
    public async Task BatchedGenerationEqualsEachRequestAlone()
    {
        var weights = new ReferenceWeights(Llama4Presets.TinyMaverick, seed: 9);
        using var engine = LocalEngine.FromModel(ModelTestData.Load(weights), options: new LocalEngineOptions { MaxStepTokens = 7 });
        var requests = Enumerable.Range(0, 5).Select(i => new GenerationRequest(
            ModelTestData.Tokens(3 + 4 * i, seed: 20 + i),
            new SamplingParams { MaxTokens = 4 + i, Temperature = i % 2 == 0 ? 0 : 0.9f, TopP = 0.9f, Seed = 100 + i, IgnoreEos = true })).ToArray();
        var batched = await engine.GenerateAsync(requests);
        for (int i = 0; i < requests.Length; i++)
        {
            var alone = (await engine.GenerateAsync([requests[i]]))[0];
            Assert.Equal(alone.Tokens, batched[i].Tokens);
        }
    }

    [Fact]
    public async Task StopTokenEndsGenerationAndIsNotReturned()
    {
        var weights = new ReferenceWeights(Llama4Presets.TinyScout, seed: 3);
        using var engine = LocalEngine.FromModel(ModelTestData.Load(weights));
        var prompt = ModelTestData.Tokens(5, seed: 2);
        var free = (await engine.GenerateAsync([new GenerationRequest(prompt, new SamplingParams { MaxTokens = 6, IgnoreEos = true })]))[0];
        int stopAt = free.Tokens[3];
        int firstIndex = free.Tokens.ToList().IndexOf(stopAt);
        var stopped = (await engine.GenerateAsync([new GenerationRequest(prompt, new SamplingParams { MaxTokens = 6, StopTokenIds = [stopAt] })]))[0];
        Assert.Equal(FinishReason.Stop, stopped.FinishReason);
        Assert.Equal(stopAt, stopped.StopTokenId);
        Assert.Equal(free.Tokens.Take(firstIndex), stopped.Tokens);
    }

    [Fact]
    public async Task PromptBeyondTheContextIsRejected()
    {
        using var engine = LocalEngine.FromModel(ModelTestData.Load(new ReferenceWeights(Llama4Presets.TinyScout)));
        var e = await Assert.ThrowsAsync<ArgumentException>(() => engine.GenerateAsync(
            [new GenerationRequest(ModelTestData.Tokens(250), new SamplingParams { MaxTokens = 10 })]));
        Assert.Contains("context", e.Message);
    }
}

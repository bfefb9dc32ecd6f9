using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Tests.Reference;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Model;

/// <summary>The model against the float64 loop oracle, and cache/batching invariances (spec §6.3).</summary>
public sealed class Llama4TextModelTests
{
    [Theory]
    [InlineData("tiny-scout")]
    [InlineData("tiny-scout-top2")]
    [InlineData("tiny-maverick")]
    [InlineData("tiny-maverick-top1")]
    public void PrefillLogitsMatchTheFloat64Oracle(string name)
    {
        var weights = new ReferenceWeights(ModelTestData.Config(name), seed: 11);
        var tokens = ModelTestData.Tokens(24, seed: 3);
        var expected = new ReferenceModel(weights).Logits(tokens);
        using var model = ModelTestData.Load(weights);
        var actual = ModelTestData.Prefill(model, tokens);
        double diff = ModelTestData.MaxAbsDiff(actual, expected);
        Assert.True(diff < 1e-4, $"max |logit diff| {diff:E3} vs the float64 oracle");
    }

    [Theory]
    [InlineData("tiny-scout")]
    [InlineData("tiny-maverick")]
    public void PrefillThenDecodeEqualsFullPrefill(string name)
    {
        var weights = new ReferenceWeights(ModelTestData.Config(name), seed: 5);
        var tokens = ModelTestData.Tokens(11, seed: 9);
        using var model = ModelTestData.Load(weights);
        var full = ModelTestData.Prefill(model, tokens);

        using var cache = model.CreateCache();
        var rows = new List<float[]>();
        using (var first = model.Forward([new SequenceSlice(cache, tokens[..5], LogitsRequest.All)])!)
            rows.AddRange(ModelTestData.ToRows(first));
        for (int i = 5; i < tokens.Length; i++)
        {
            using var step = model.Forward([new SequenceSlice(cache, [tokens[i]], LogitsRequest.Last)])!;
            rows.AddRange(ModelTestData.ToRows(step));
        }
        Assert.Equal(tokens.Length, cache.Length);
        double diff = ModelTestData.MaxAbsDiff(rows, full);
        Assert.True(diff < 1e-5, $"cached decode differs from full recompute by {diff:E3}");
    }

    [Fact]
    public void UnevenChunkedPrefillsEqualFullPrefill()
    {
        var weights = new ReferenceWeights(ModelTestData.Config("tiny-maverick"), seed: 2);
        var tokens = ModelTestData.Tokens(17, seed: 4);
        using var model = ModelTestData.Load(weights);
        var full = ModelTestData.Prefill(model, tokens);
        using var cache = model.CreateCache();
        var rows = new List<float[]>();
        int at = 0;
        foreach (int n in new[] { 2, 4, 1, 7, 3 })
        {
            using var l = model.Forward([new SequenceSlice(cache, tokens[at..(at + n)], LogitsRequest.All)])!;
            rows.AddRange(ModelTestData.ToRows(l));
            at += n;
        }
        Assert.True(ModelTestData.MaxAbsDiff(rows, full) < 1e-5);
    }

    [Fact]
    public void ChunkedLayersKeepAtMostChunkSizeKeysAndGlobalLayersGrow()
    {
        var config = ModelTestData.Config("tiny-scout"); // C = 4; layer 3 NoPE
        using var model = ModelTestData.Load(new ReferenceWeights(config));
        using var cache = model.CreateCache();
        var tokens = ModelTestData.Tokens(13);
        using (model.Forward([new SequenceSlice(cache, tokens[..6], LogitsRequest.None)])) { }
        for (int i = 6; i < tokens.Length; i++)
        {
            using (model.Forward([new SequenceSlice(cache, [tokens[i]], LogitsRequest.Last)])) { }
            for (int l = 0; l < 3; l++)
            {
                Assert.InRange(cache.Layer(l).Count, 0, 4);
                Assert.Equal(cache.Length % 4, cache.Layer(l).Count);
                Assert.Equal(cache.Length / 4 * 4, cache.Layer(l).StartPosition);
            }
            Assert.Equal(cache.Length, cache.Layer(3).Count);
        }
    }

    [Theory]
    [InlineData("tiny-scout")]
    [InlineData("tiny-maverick")]
    public void RaggedBatchEqualsEachSequenceAlone(string name)
    {
        var weights = new ReferenceWeights(ModelTestData.Config(name), seed: 8);
        using var model = ModelTestData.Load(weights);
        int[][] prompts = [ModelTestData.Tokens(3, 1), ModelTestData.Tokens(9, 2), ModelTestData.Tokens(6, 3)];
        var alone = prompts.Select(p => ModelTestData.Prefill(model, p)).ToArray();

        var caches = prompts.Select(_ => model.CreateCache()).ToArray();
        try
        {
            // Step 1: the first sequence prefills fully; the others prefill a first part.
            using (var l = model.Forward([
                new SequenceSlice(caches[0], prompts[0], LogitsRequest.Last),
                new SequenceSlice(caches[1], prompts[1][..5], LogitsRequest.All),
                new SequenceSlice(caches[2], prompts[2][..1], LogitsRequest.None)])!)
            {
                var rows = ModelTestData.ToRows(l);
                Assert.Equal(6, rows.Length);
                Assert.True(ModelTestData.MaxAbsDiff([rows[0]], [alone[0][2]]) < 1e-5);
                Assert.True(ModelTestData.MaxAbsDiff(rows[1..6], alone[1][..5]) < 1e-5);
            }
            // Step 2: different lengths again, in another order.
            using (var l = model.Forward([
                new SequenceSlice(caches[2], prompts[2][1..], LogitsRequest.All),
                new SequenceSlice(caches[1], prompts[1][5..], LogitsRequest.Last)])!)
            {
                var rows = ModelTestData.ToRows(l);
                Assert.True(ModelTestData.MaxAbsDiff(rows[..5], alone[2][1..]) < 1e-5);
                Assert.True(ModelTestData.MaxAbsDiff([rows[5]], [alone[1][8]]) < 1e-5);
            }
        }
        finally
        {
            foreach (var c in caches) c.Dispose();
        }
    }

    [Fact]
    public void Bfloat16ComputeStaysCloseToFloat32()
    {
        var weights = new ReferenceWeights(ModelTestData.Config("tiny-maverick"), seed: 21);
        var tokens = ModelTestData.Tokens(10, seed: 1);
        using var f32 = ModelTestData.Load(weights);
        using var bf16 = ModelTestData.Load(weights, torch.ScalarType.BFloat16);
        var a = ModelTestData.Prefill(f32, tokens);
        var b = ModelTestData.Prefill(bf16, tokens);
        double scale = a.SelectMany(r => r).Max(Math.Abs);
        double diff = ModelTestData.MaxAbsDiff(b, a);
        Assert.True(diff < 0.1 * scale, $"bf16 differs by {diff} (logit scale {scale})");
        Assert.True(diff > 0, "bf16 compute must actually run in bf16");
    }

    [Fact]
    public void OutOfVocabularyTokenIsRejected()
    {
        using var model = ModelTestData.Load(new ReferenceWeights(ModelTestData.Config("tiny-scout")));
        using var cache = model.CreateCache();
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Forward([new SequenceSlice(cache, [1, 512], LogitsRequest.Last)]));
        Assert.Contains("512", e.Message);
        Assert.Equal(0, cache.Length);
    }
}

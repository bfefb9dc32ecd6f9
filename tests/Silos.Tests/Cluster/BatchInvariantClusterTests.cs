using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model.Moe;
using TorchSharp;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// The cluster in bf16 with batch-invariant kernels on every silo (<c>--batch-invariant true</c>): a request's greedy tokens
/// and logprobs are the same alone and among 16 whose prefills and decodes share steps; the tokens it decoded are the argmax
/// of one prefill over the same text (what a failover's re-prefill computes); and its logits equal, bit for bit, the local
/// engine's with the same arithmetic (grouped experts, batch-invariant), which in turn are the same prefilled or decoded.
/// </summary>
[Collection(TinyMaverickBf16InvariantCluster.Name)]
public sealed class BatchInvariantClusterTests(TinyMaverickBf16InvariantClusterFixture fixture)
{
    [Fact]
    public async Task GreedyTokensAndLogprobsAreTheSameAloneAndAmongSixteen()
    {
        var requests = Enumerable.Range(0, 16).Select(i => new GenerationRequest(ClusterPrompts.Tokens(2 + 3 * (i % 5), seed: 100 + i),
            new SamplingParams { MaxTokens = 8, IgnoreEos = true, TopLogprobs = 0 })).ToArray();
        var together = await fixture.Engine.GenerateAsync(requests);
        foreach (int i in new[] { 0, 3, 7, 12, 15 })
        {
            var alone = (await fixture.Engine.GenerateAsync([requests[i]]))[0];
            Assert.Equal(alone.Tokens, together[i].Tokens);
            Assert.Equal(alone.Details.Select(d => d.Logprob), together[i].Details.Select(d => d.Logprob));
        }
    }

    [Fact]
    public async Task DecodedTokensAreTheArgmaxOfOnePrefillOverTheSameText()
    {
        var prompt = ClusterPrompts.Tokens(9, seed: 7);
        var generated = (await fixture.Engine.GenerateAsync([new GenerationRequest(prompt, new SamplingParams { MaxTokens = 10, IgnoreEos = true })]))[0].Tokens;
        var logits = await fixture.Engine.LogitsAsync([.. prompt, .. generated.Take(generated.Count - 1)]);
        for (int i = 0; i < generated.Count; i++)
        {
            var row = logits[prompt.Length - 1 + i];
            Assert.Equal(Array.IndexOf(row, row.Max()), generated[i]);
        }
    }

    [Fact]
    public async Task LogitsEqualTheLocalEngineWithTheSameArithmeticBitForBit()
    {
        using var grouped = LocalEngine.Load(fixture.ModelDirectory, new LocalEngineOptions
        {
            ComputeDType = torch.ScalarType.BFloat16, BatchInvariant = true, LocalMoe = LocalMoeStrategy.Grouped, MaxStepTokens = 5,
        });
        foreach (int n in new[] { 1, 4, 23 })
        {
            var tokens = ClusterPrompts.Tokens(n, seed: 30 + n);
            var cluster = await fixture.Engine.LogitsAsync(tokens);
            var local = grouped.Logits(tokens);
            for (int p = 0; p < n; p++)
                Assert.True(cluster[p].AsSpan().SequenceEqual(local[p]), $"{n} tokens, position {p}: cluster and local logits differ");
        }
    }
}

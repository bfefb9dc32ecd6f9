using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>A fixed batch run to completion through the scheduler (what <c>generate</c>, the engines and the benchmarks use).</summary>
public sealed class BatchGenerationTests
{
    private static SamplingParams Greedy(int maxTokens) => new() { Temperature = 0, MaxTokens = maxTokens };

    [Fact]
    public async Task EveryRequestGetsItsTokensAndTheCallbackSeesThemInOrder()
    {
        var backend = new FakeStepBackend(2);
        var prompts = new[] { new[] { 5, 6, 7 }, new[] { 8 }, Enumerable.Range(10, 40).ToArray() };
        var requests = prompts.Select((p, i) => new GenerationRequest(p, Greedy(3 + i))).ToArray();
        var seen = prompts.Select(_ => new List<int>()).ToArray();

        var (results, timings) = await BatchGeneration.RunAsync(backend, TestModel.Limits, maxStepTokens: 16, requests,
            (i, t) => { lock (seen[i]) seen[i].Add(t.TokenId); });

        for (int i = 0; i < prompts.Length; i++)
        {
            var expected = backend.Reference(prompts[i], 3 + i);
            Assert.Equal(expected, results[i].Tokens);
            Assert.Equal(expected, seen[i]);
            Assert.Equal(FinishReason.Length, results[i].FinishReason);
        }

        Assert.Equal(prompts.Sum(p => p.Length), timings.PrefillTokens);
        Assert.Equal(results.Sum(r => r.Tokens.Count) - prompts.Length, timings.DecodeTokens); // each first token comes from a prefill step
        Assert.Empty(backend.ProtocolErrors);
        Assert.Equal(0, backend.LiveSequences()); // every sequence released when the batch ends
    }

    [Fact]
    public async Task AnInvalidRequestIsNamedBeforeAnyStep()
    {
        var backend = new FakeStepBackend(1);
        var requests = new[]
        {
            new GenerationRequest([5], Greedy(2)),
            new GenerationRequest([5, 6], Greedy(TestModel.Limits.MaxModelLength)),
        };
        var e = await Assert.ThrowsAsync<ArgumentException>(() => BatchGeneration.RunAsync(backend, TestModel.Limits, 16, requests));
        Assert.StartsWith("request 1: This model's maximum context length is", e.Message);
        Assert.Empty(backend.Steps);
    }

    [Fact]
    public async Task ARankFailureMovesItsSequencesAndTheBatchEndsUnchanged()
    {
        var backend = new FakeStepBackend(2);
        backend.FailNextStep(1, new InvalidOperationException("rank 1 broke"));
        var prompts = Enumerable.Range(0, 4).Select(i => new[] { 5 + i, 9 }).ToArray();
        var (results, _) = await BatchGeneration.RunAsync(backend, TestModel.Limits, 16, prompts.Select(p => new GenerationRequest(p, Greedy(6))).ToArray());
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(backend.Reference(prompts[i], 6), results[i].Tokens);
        Assert.Empty(backend.ProtocolErrors);
    }

    [Fact]
    public async Task ARankThatKeepsFailingEndsTheBatchWithTheCauseNamed()
    {
        var backend = new FakeStepBackend(1);
        var error = new InvalidOperationException("rank 0 broke");
        backend.FailEveryStep(0, error);
        var requests = Enumerable.Range(0, 4).Select(i => new GenerationRequest([5 + i], Greedy(50))).ToArray();
        var e = await Assert.ThrowsAsync<SequenceFailedException>(() => BatchGeneration.RunAsync(backend, TestModel.Limits, 16, requests));
        Assert.Contains("rank 0 broke", e.Message);
        Assert.Same(error, e.InnerException);
    }

    [Fact]
    public async Task CancellationStopsTheBatch()
    {
        var backend = new FakeStepBackend(1);
        using var cancel = new CancellationTokenSource();
        var requests = new[] { new GenerationRequest([5], new SamplingParams { Temperature = 0, MaxTokens = 100_000, IgnoreEos = true }) };
        var run = BatchGeneration.RunAsync(backend, TestModel.Limits with { MaxModelLength = 200_000 }, 16, requests,
            (_, _) => cancel.Cancel(), cancel.Token);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);
    }
}

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
    public async Task PrefillFirstHoldsDecodesUntilEveryPromptIsInAndGivesTheSameTokens()
    {
        var prompts = Enumerable.Range(0, 5).Select(i => Enumerable.Range(10 * i + 3, 7).ToArray()).ToArray(); // 35 prompt tokens
        var requests = prompts.Select(p => new GenerationRequest(p, Greedy(4))).ToArray();
        var backend = new FakeStepBackend(1);
        var infos = new List<SchedulerStepInfo>();
        var settings = new BatchGenerationOptions { MaxStepTokens = 8, PrefillFirst = true, StepCompleted = infos.Add };

        var (results, timings) = await BatchGeneration.RunAsync(backend, TestModel.Limits, settings, requests);

        for (int i = 0; i < prompts.Length; i++) Assert.Equal(backend.Reference(prompts[i], 4), results[i].Tokens);
        int lastPrefill = infos.FindLastIndex(s => s.PrefillTokens > 0);
        Assert.All(infos.Take(lastPrefill + 1), s => Assert.Equal(0, s.DecodeTokens)); // no decode while a prompt is prefilling
        Assert.All(infos.Skip(lastPrefill + 1), s => Assert.Equal((0, prompts.Length), (s.PrefillTokens, s.DecodeTokens))); // every decode step has all
        Assert.Equal(3, infos.Count - lastPrefill - 1);
        Assert.Equal(35, timings.PrefillTokens);
        Assert.Equal(15, timings.DecodeTokens);

        // Without it, the first sequences decode while the later prompts are prefilled (chunked prefill: decodes go first).
        var mixed = new List<SchedulerStepInfo>();
        await BatchGeneration.RunAsync(new FakeStepBackend(1), TestModel.Limits, settings with { PrefillFirst = false, StepCompleted = mixed.Add }, requests);
        Assert.Contains(mixed, s => s.PrefillTokens > 0 && s.DecodeTokens > 0);
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

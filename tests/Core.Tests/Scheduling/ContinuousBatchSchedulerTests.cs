using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using static Llama4Cluster.Core.Tests.Scheduling.SchedulerHarness;

namespace Llama4Cluster.Core.Tests.Scheduling;

public sealed class ContinuousBatchSchedulerTests
{
    [Fact]
    public async Task NewRequestJoinsTheRunningBatchAtTheNextStep()
    {
        await using var h = new SchedulerHarness(ranks: 1);
        var gate = h.Backend.Gate = new StepGate();
        var promptA = Prompt(6, 1);
        var promptB = Prompt(5, 2);
        var a = h.Submit(promptA, Greedy(20));
        await h.StartAsync();

        var first = await gate.ArrivalAsync();
        Assert.Equal([a.Id], Ids(first));
        gate.Allow();
        var second = await gate.ArrivalAsync(); // A decodes; the step is held in flight
        Assert.Null(Part(second, a.Id).Start);
        Assert.Equal(1, Part(second, a.Id).Tokens.Length);

        var b = h.Submit(promptB, Greedy(20));
        gate.Allow();
        var third = await gate.ArrivalAsync();
        Assert.Equal(second.Request.Step + 1, third.Request.Step);
        Assert.Equal([a.Id, b.Id], Ids(third));
        Assert.Null(Part(third, a.Id).Start);
        Assert.NotNull(Part(third, b.Id).Start);
        Assert.Equal(promptB, Part(third, b.Id).Tokens);

        gate.Open();
        var oa = await OutcomeAsync(a);
        var ob = await OutcomeAsync(b);
        Assert.Equal(h.Backend.Reference(promptA, 20), oa.Tokens);
        Assert.Equal(h.Backend.Reference(promptB, 20), ob.Tokens);
        Assert.Equal(FinishReason.Length, oa.Reason);
        Assert.Equal(FinishReason.Length, ob.Reason);
        Assert.Empty(h.Backend.ProtocolErrors);
    }

    [Fact]
    public async Task LongPromptIsPrefilledInChunksWhileEveryDecodingSequenceGetsATokenEachStep()
    {
        await using var h = new SchedulerHarness(ranks: 1, o =>
        {
            o.MaxStepTokens = 16;
            o.MaxRunningSequences = 8;
        });
        var shortPrompts = Enumerable.Range(0, 3).Select(i => Prompt(4, 10 + i)).ToArray();
        var shorts = shortPrompts.Select(p => h.Submit(p, Greedy(30))).ToArray();
        var longPrompt = Prompt(100, 20);
        var longOne = h.Submit(longPrompt, Greedy(5));
        await h.StartAsync();

        var outcomes = await Task.WhenAll(shorts.Select(OutcomeAsync));
        var longOutcome = await OutcomeAsync(longOne);
        for (int i = 0; i < shorts.Length; i++) Assert.Equal(h.Backend.Reference(shortPrompts[i], 30), outcomes[i].Tokens);
        Assert.Equal(h.Backend.Reference(longPrompt, 5), longOutcome.Tokens);

        var steps = h.StepsInOrder();
        Assert.All(steps, c => Assert.True(c.Request.Sequences.Sum(s => s.Tokens.Length) <= 16, $"step {c.Request.Step} exceeds the budget"));
        Assert.All(h.StepLog, i => Assert.True(i.PrefillTokens + i.DecodeTokens <= 16));

        // Each short sequence is in every step from its first to its last: it is never stalled by the long prefill.
        foreach (var s in shorts)
        {
            var numbers = steps.Where(c => Ids(c).Contains(s.Id)).Select(c => c.Request.Step).ToList();
            Assert.Equal(30, numbers.Count);
            Assert.Equal(Enumerable.Range((int)numbers[0], 30).Select(n => (long)n), numbers);
            Assert.All(numbers.Skip(1), n => Assert.Equal(1, Part(steps.Single(c => c.Request.Step == n), s.Id).Tokens.Length));
        }

        // The long prompt: decodes take one token each first, prompt chunks share the rest (16 - 3 = 13).
        var parts = steps.Where(c => Ids(c).Contains(longOne.Id)).Select(c => Part(c, longOne.Id)).ToList();
        var chunks = parts.Take(9).ToList();
        Assert.Equal([4, 13, 13, 13, 13, 13, 13, 13, 5], chunks.Select(p => p.Tokens.Length));
        Assert.Equal(longPrompt, chunks.SelectMany(p => p.Tokens.ToArray()));
        Assert.NotNull(chunks[0].Start);
        Assert.All(parts.Skip(1), p => Assert.Null(p.Start));
        Assert.All(chunks.Take(8), p => Assert.False(p.Sample));
        Assert.True(chunks[8].Sample);
        Assert.Equal(9 + 4, parts.Count);
        Assert.Empty(h.Backend.ProtocolErrors);
    }

    [Fact]
    public async Task RunningSequencesNeverExceedTheMaximumAndExtraRequestsWait()
    {
        await using var h = new SchedulerHarness(ranks: 2, o => o.MaxRunningSequences = 2);
        var prompts = Enumerable.Range(0, 5).Select(i => Prompt(3, 30 + i)).ToArray();
        var handles = prompts.Select(p => h.Submit(p, Greedy(4))).ToArray();
        Assert.Equal(5, h.Scheduler.Snapshot().Waiting);
        await h.StartAsync();

        var outcomes = await Task.WhenAll(handles.Select(OutcomeAsync));
        for (int i = 0; i < prompts.Length; i++) Assert.Equal(h.Backend.Reference(prompts[i], 4), outcomes[i].Tokens);
        Assert.All(h.StepsInOrder().GroupBy(c => c.Request.Step), g => Assert.True(g.Sum(c => c.Request.Sequences.Count) <= 2));
        Assert.All(h.StepLog, i => Assert.True(i.Running <= 2));
        var first = h.StepLog.First();
        Assert.Equal(2, first.Admitted);
        Assert.Equal(3, first.Waiting);

        // The third request starts only after one of the first two ended.
        var steps = h.StepsInOrder();
        long thirdStart = steps.First(c => Ids(c).Contains(handles[2].Id)).Request.Step;
        long firstEnd = handles.Take(2).Min(x => steps.Last(c => Ids(c).Contains(x.Id)).Request.Step);
        Assert.True(thirdStart > firstEnd);
    }

    [Fact]
    public async Task KvBudgetHoldsAdmissionUntilReservationsFit()
    {
        // Each sequence reserves 100 + 50 = 150 tokens; two do not fit 256.
        await using var h = new SchedulerHarness(ranks: 2, o => o.KvTokenCapacity = 256);
        var a = h.Submit(Prompt(100, 1), Greedy(50));
        var b = h.Submit(Prompt(100, 2), Greedy(50));
        await h.StartAsync();
        await OutcomeAsync(a);
        await OutcomeAsync(b);

        Assert.Equal(256, h.Scheduler.Snapshot().KvTokenCapacity);
        Assert.All(h.StepLog, i => Assert.True(i.Running <= 1));
        var steps = h.StepsInOrder();
        Assert.True(steps.First(c => Ids(c).Contains(b.Id)).Request.Step > steps.Last(c => Ids(c).Contains(a.Id)).Request.Step);
    }

    [Fact]
    public async Task FullWaitingQueueRefusesWithRetryAfter()
    {
        await using var h = new SchedulerHarness(ranks: 1, o =>
        {
            o.MaxWaitingRequests = 2;
            o.RetryAfter = TimeSpan.FromSeconds(3);
        });
        var a = h.Submit(Prompt(4, 1), Greedy(3));
        var b = h.Submit(Prompt(4, 2), Greedy(3));
        var full = Assert.Throws<SchedulerQueueFullException>(() => h.Submit(Prompt(4, 3), Greedy(3)));
        Assert.Equal(2, full.Waiting);
        Assert.Equal(TimeSpan.FromSeconds(3), full.RetryAfter);
        Assert.Equal(2, h.Scheduler.Snapshot().Waiting);

        await h.StartAsync();
        Assert.Equal(FinishReason.Length, (await OutcomeAsync(a)).Reason);
        Assert.Equal(FinishReason.Length, (await OutcomeAsync(b)).Reason);
        var c = h.Submit(Prompt(4, 3), Greedy(3)); // the queue has room again
        Assert.Equal(h.Backend.Reference(Prompt(4, 3), 3), (await OutcomeAsync(c)).Tokens);
    }

    [Fact]
    public async Task CancellingARunningSequenceFreesItsSlotAtTheNextStepAndReleasesIt()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxRunningSequences = 1);
        var gate = h.Backend.Gate = new StepGate();
        var promptA = Prompt(5, 1);
        var promptB = Prompt(6, 2);
        var a = h.Submit(promptA, Greedy(50));
        var b = h.Submit(promptB, Greedy(3));
        await h.StartAsync();

        Assert.Equal([a.Id], Ids(await gate.ArrivalAsync()));
        gate.Allow();
        var second = await gate.ArrivalAsync();
        Assert.Equal([a.Id], Ids(second));
        a.Cancel();
        gate.Allow();

        var third = await gate.ArrivalAsync();
        Assert.Equal(second.Request.Step + 1, third.Request.Step);
        Assert.Equal([b.Id], Ids(third));
        Assert.NotNull(Part(third, b.Id).Start);
        await h.Backend.Released(a.Id).WaitAsync(Bounds.Wait);

        gate.Open();
        var oa = await OutcomeAsync(a);
        oa.Failed<OperationCanceledException>();
        Assert.Equal(h.Backend.Reference(promptA, 2), oa.Tokens); // the tokens of the two steps it ran
        Assert.Equal(h.Backend.Reference(promptB, 3), (await OutcomeAsync(b)).Tokens);
        await h.StopAsync();
        Assert.Equal(0, h.Backend.LiveSequences());
    }

    [Fact]
    public async Task CancelledWaitingSequenceLeavesTheQueueWithoutRunning()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxRunningSequences = 1);
        using var client = new CancellationTokenSource();
        var a = h.Submit(Prompt(4, 1), Greedy(3));
        var b = h.Submit(Prompt(4, 2), Greedy(3), cancellationToken: client.Token);
        var c = h.Submit(Prompt(4, 3), Greedy(3));
        client.Cancel();
        await h.StartAsync();

        var ob = await OutcomeAsync(b);
        ob.Failed<OperationCanceledException>();
        Assert.Empty(ob.Tokens);
        Assert.Equal(FinishReason.Length, (await OutcomeAsync(a)).Reason);
        Assert.Equal(FinishReason.Length, (await OutcomeAsync(c)).Reason);
        Assert.DoesNotContain(h.Backend.Steps, call => Ids(call).Contains(b.Id));
    }

    [Fact]
    public async Task PassedDeadlinesEndRunningAndWaitingSequencesWithTimeout()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxRunningSequences = 1);
        var gate = h.Backend.Gate = new StepGate();
        var promptA = Prompt(5, 1);
        var a = h.Submit(promptA, Greedy(50), TimeSpan.FromSeconds(30));
        var b = h.Submit(Prompt(5, 2), Greedy(50), TimeSpan.FromSeconds(40));
        var c = h.Submit(Prompt(5, 3), Greedy(2)); // the default deadline: 10 minutes
        await h.StartAsync();

        Assert.Equal([a.Id], Ids(await gate.ArrivalAsync()));
        gate.Allow();
        Assert.Equal([a.Id], Ids(await gate.ArrivalAsync()));
        h.Time.Advance(TimeSpan.FromSeconds(45));
        gate.Allow();
        Assert.Equal([c.Id], Ids(await gate.ArrivalAsync()));
        gate.Open();

        var oa = await OutcomeAsync(a);
        Assert.Contains("30 s", oa.Failed<TimeoutException>().Message);
        Assert.Equal(h.Backend.Reference(promptA, 2), oa.Tokens);
        var ob = await OutcomeAsync(b);
        ob.Failed<TimeoutException>();
        Assert.Empty(ob.Tokens);
        Assert.Equal(FinishReason.Length, (await OutcomeAsync(c)).Reason);
        await h.Backend.Released(a.Id).WaitAsync(Bounds.Wait);
        Assert.DoesNotContain(h.Backend.Steps, call => Ids(call).Contains(b.Id));
    }

    [Fact]
    public async Task EosAndStopIdsEndSequencesUnemittedUnlessIgnoredAndMaxTokensEndsWithLength()
    {
        // Prompts of 5 tokens: the history reaches 8 tokens at the fourth sample, which is EOS; before it, 100 + length.
        var eos = TestModel.Eos;
        var otherEos = TestModel.Limits.EosTokenIds[^1];
        await using var h = new SchedulerHarness(ranks: 2, next: history => history.Count >= 8 ? (history[0] == 9 ? otherEos : eos) : 100 + history.Count);
        int[] P(int first) => [first, 3, 3, 3, 3];
        var plain = h.Submit(P(3), Greedy(10));
        var secondEos = h.Submit(P(9), Greedy(10));
        var ignoreEos = h.Submit(P(3), Greedy(5) with { IgnoreEos = true });
        var stopId = h.Submit(P(3), Greedy(10) with { StopTokenIds = [106] });
        var stopIdIgnoringEos = h.Submit(P(3), Greedy(10) with { StopTokenIds = [106], IgnoreEos = true });
        var maxTokens = h.Submit(P(3), Greedy(2));
        await h.StartAsync();

        var o = await OutcomeAsync(plain);
        Assert.Equal([105, 106, 107], o.Tokens);
        Assert.Equal(new FinishedEvent(FinishReason.Stop, eos), o.End);
        o = await OutcomeAsync(secondEos);
        Assert.Equal([105, 106, 107], o.Tokens);
        Assert.Equal(new FinishedEvent(FinishReason.Stop, otherEos), o.End);
        o = await OutcomeAsync(ignoreEos);
        Assert.Equal([105, 106, 107, eos, eos], o.Tokens);
        Assert.Equal(new FinishedEvent(FinishReason.Length, null), o.End);
        o = await OutcomeAsync(stopId);
        Assert.Equal([105], o.Tokens);
        Assert.Equal(new FinishedEvent(FinishReason.Stop, 106), o.End);
        o = await OutcomeAsync(stopIdIgnoringEos);
        Assert.Equal([105], o.Tokens);
        Assert.Equal(new FinishedEvent(FinishReason.Stop, 106), o.End);
        o = await OutcomeAsync(maxTokens);
        Assert.Equal([105, 106], o.Tokens);
        Assert.Equal(new FinishedEvent(FinishReason.Length, null), o.End);

        // The ranks' samplers get the same stop rules.
        var start = h.Backend.StartOf(stopIdIgnoringEos.Id);
        Assert.Equal(TestModel.Limits.EosTokenIds, start.EosTokenIds);
        Assert.Equal(new[] { 106 }, start.Sampling.StopTokenIds);
        Assert.True(start.Sampling.IgnoreEos);
        Assert.False(h.Backend.StartOf(plain.Id).Sampling.IgnoreEos);
        await h.Backend.Released(plain.Id).WaitAsync(Bounds.Wait);
        await h.Backend.Released(stopId.Id).WaitAsync(Bounds.Wait);
    }

    [Fact]
    public async Task SixtyFourConcurrentSequencesEachProduceExactlyTheTokensTheyProduceAlone()
    {
        const int n = 64;
        var prompts = Enumerable.Range(0, n).Select(i => Prompt(5 + (i * 37) % 90, i)).ToArray();
        var sampling = Enumerable.Range(0, n).Select(i => Greedy(8 + i % 17)).ToArray();

        // Alone: one running sequence at a time.
        Outcome[] alone;
        await using (var solo = new SchedulerHarness(ranks: 1, o => o.MaxRunningSequences = 1))
        {
            var handles = Enumerable.Range(0, n).Select(i => solo.Submit(prompts[i], sampling[i])).ToArray();
            await solo.StartAsync();
            alone = await Task.WhenAll(handles.Select(OutcomeAsync));
            Assert.All(solo.StepLog, i => Assert.Equal(1, i.Sequences));
        }

        // Together: 64 submitted at once from many threads into a running scheduler over 3 ranks, with chunked prefill.
        await using var h = new SchedulerHarness(ranks: 3, o =>
        {
            o.MaxRunningSequences = 64;
            o.MaxStepTokens = 96;
        });
        var gate = h.Backend.Gate = new StepGate(); // nothing finishes before all are in
        await h.StartAsync();
        var together = new SequenceHandle[n];
        Parallel.For(0, n, i => together[i] = h.Submit(prompts[i], sampling[i]));
        gate.Open();
        var batched = await Task.WhenAll(together.Select(OutcomeAsync));

        for (int i = 0; i < n; i++)
        {
            Assert.Equal(alone[i].Tokens, batched[i].Tokens);
            Assert.Equal(alone[i].End, batched[i].End);
            Assert.Equal(sampling[i].MaxTokens, batched[i].Tokens.Count);
        }

        Assert.Equal(n, batched.Select(o => string.Join(",", o.Tokens)).Distinct().Count()); // a mix-up would show
        Assert.Equal(n, h.StepLog.Max(i => i.Running)); // all 64 ran at once
        Assert.True(h.StepLog.Max(i => i.Sequences) > 8, "the sequences were batched");
        Assert.Contains(h.StepLog, i => i.PrefillTokens > 0 && i.DecodeTokens > 0);
        Assert.Empty(h.Backend.ProtocolErrors);
        await h.StopAsync();
        Assert.Equal(0, h.Backend.LiveSequences());
    }

    [Fact]
    public async Task WithoutFailoversAFailingRankFailsOnlyItsOwnSequencesAndServingGoesOn()
    {
        await using var h = new SchedulerHarness(ranks: 2, o => o.MaxFailovers = 0);
        var gate = h.Backend.Gate = new StepGate();
        var prompts = Enumerable.Range(0, 4).Select(i => Prompt(4 + i, i)).ToArray();
        var handles = prompts.Select(p => h.Submit(p, Greedy(6))).ToArray(); // least loaded: 0, 1, 0, 1
        await h.StartAsync();

        var firstStep = new[] { await gate.ArrivalAsync(), await gate.ArrivalAsync() }.OrderBy(c => c.Rank).ToArray();
        Assert.Equal([handles[0].Id, handles[2].Id], Ids(firstStep[0]));
        Assert.Equal([handles[1].Id, handles[3].Id], Ids(firstStep[1]));
        gate.Allow(2);
        await gate.ArrivalAsync();
        await gate.ArrivalAsync();
        var error = new InvalidOperationException("rank 1 lost its device");
        h.Backend.FailNextStep(1, error);
        gate.Open();

        foreach (int i in new[] { 1, 3 })
        {
            var failed = await OutcomeAsync(handles[i]);
            Assert.Same(error, Assert.IsType<FailedEvent>(failed.End).Error);
            Assert.Equal(h.Backend.Reference(prompts[i], 1), failed.Tokens);
        }

        foreach (int i in new[] { 0, 2 })
        {
            var served = await OutcomeAsync(handles[i]);
            Assert.Equal(h.Backend.Reference(prompts[i], 6), served.Tokens);
            Assert.Equal(FinishReason.Length, served.Reason);
        }

        // Both ranks serve new requests afterwards (held at the gate until both are in, so they run side by side).
        var again = h.Backend.Gate = new StepGate();
        var later = Enumerable.Range(0, 2).Select(i => h.Submit(Prompt(7, 50 + i), Greedy(4))).ToArray();
        again.Open();
        for (int i = 0; i < later.Length; i++) Assert.Equal(h.Backend.Reference(Prompt(7, 50 + i), 4), (await OutcomeAsync(later[i])).Tokens);
        Assert.Contains(h.StepLog, s => s.Failed == 2);
        Assert.Equal([0, 1], h.Backend.Steps.Where(c => Ids(c).Intersect(later.Select(x => x.Id)).Any()).Select(c => c.Rank).Distinct().Order());
        await h.StopAsync();
        Assert.Equal(0, h.Backend.LiveSequences());
    }

    [Fact]
    public async Task WithoutFailoversAResponseWithoutItsSamplesFailsThatRanksSequences()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxFailovers = 0);
        h.Backend.DropSampleOfNextStep(0);
        var a = h.Submit(Prompt(4, 1), Greedy(3));
        var b = h.Submit(Prompt(4, 2), Greedy(3));
        await h.StartAsync();

        Assert.Contains("samples", (await OutcomeAsync(a)).Failed<InvalidOperationException>().Message);
        (await OutcomeAsync(b)).Failed<InvalidOperationException>();
        var c = h.Submit(Prompt(4, 3), Greedy(3));
        Assert.Equal(h.Backend.Reference(Prompt(4, 3), 3), (await OutcomeAsync(c)).Tokens);
    }

    [Fact]
    public async Task FailingReleasesAndObserversDoNotStopServing()
    {
        await using var h = new SchedulerHarness(ranks: 1);
        h.Backend.ReleaseError = new InvalidOperationException("release lost");
        h.Scheduler.StepCompleted += _ => throw new InvalidOperationException("observer bug");
        await h.StartAsync();
        for (int i = 0; i < 3; i++)
        {
            var handle = h.Submit(Prompt(4, i), Greedy(3));
            Assert.Equal(h.Backend.Reference(Prompt(4, i), 3), (await OutcomeAsync(handle)).Tokens);
            await h.Backend.Released(handle.Id).WaitAsync(Bounds.Wait);
        }
    }

    [Fact]
    public async Task SnapshotReportsRunningWaitingKvTokensAndSteps()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxRunningSequences = 1);
        var gate = h.Backend.Gate = new StepGate();
        var a = h.Submit(Prompt(6, 1), Greedy(20));
        Assert.Equal(new SchedulerSnapshot(0, 1, 0, 256, 0, RanksUp: 1, Ranks: 1), h.Scheduler.Snapshot()); // 1 running sequence × 256 tokens
        await h.StartAsync();
        await gate.ArrivalAsync();
        gate.Allow();
        await gate.ArrivalAsync(); // step 2 in flight: step 1 prefilled 6 tokens and sampled 1
        var b = h.Submit(Prompt(4, 2), Greedy(2));
        var during = h.Scheduler.Snapshot();
        Assert.Equal(new SchedulerSnapshot(1, 1, 7, 256, 2, RanksUp: 1, Ranks: 1), during);

        a.Cancel();
        gate.Open();
        await OutcomeAsync(a);
        await OutcomeAsync(b);
        await h.StopAsync();
        var after = h.Scheduler.Snapshot();
        Assert.Equal(0, after.Running);
        Assert.Equal(0, after.Waiting);
        Assert.Equal(0, after.KvTokens);
    }

    [Fact]
    public async Task StoppingFailsUnfinishedSequencesReleasesThemAndRefusesNewOnes()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxRunningSequences = 1);
        var gate = h.Backend.Gate = new StepGate();
        var a = h.Submit(Prompt(4, 1), Greedy(20));
        var b = h.Submit(Prompt(4, 2), Greedy(20));
        await h.StartAsync();
        await gate.ArrivalAsync();
        gate.Allow();
        await gate.ArrivalAsync(); // held: stopping cancels it

        await h.StopAsync();
        (await OutcomeAsync(a)).Failed<OperationCanceledException>();
        (await OutcomeAsync(b)).Failed<OperationCanceledException>();
        await h.Backend.Released(a.Id).WaitAsync(Bounds.Wait);
        var late = h.Submit(Prompt(4, 3), Greedy(2));
        (await OutcomeAsync(late)).Failed<OperationCanceledException>();
    }

    [Fact]
    public async Task LogprobsPassThroughOnlyWhenAsked()
    {
        await using var h = new SchedulerHarness(ranks: 1);
        var with = h.Submit(Prompt(4, 1), Greedy(2) with { TopLogprobs = 2 });
        var without = h.Submit(Prompt(4, 1), Greedy(2));
        await h.StartAsync();

        var o = await OutcomeAsync(with);
        Assert.All(o.Details, t =>
        {
            Assert.Equal(-0.25f, t.Logprob);
            Assert.Equal(new[] { new TokenLogprob(t.TokenId, -0.25f), new TokenLogprob(t.TokenId + 1, -0.5f) }, t.TopLogprobs!);
        });
        Assert.Equal(2, h.Backend.StartOf(with.Id).Sampling.TopLogprobs);
        Assert.All((await OutcomeAsync(without)).Details, t =>
        {
            Assert.Null(t.Logprob);
            Assert.Null(t.TopLogprobs);
        });
    }

    [Theory]
    [InlineData("empty")]
    [InlineData("sampling")]
    [InlineData("vocabulary")]
    [InlineData("timeout")]
    public async Task InvalidSubmissionsAreRefusedWithTheProblemNamed(string problem)
    {
        await using var h = new SchedulerHarness(ranks: 1);
        var submission = problem switch
        {
            "empty" => new SequenceSubmission([], Greedy(4)),
            "sampling" => new SequenceSubmission(Prompt(4, 1), new SamplingParams { Temperature = -1 }),
            "vocabulary" => new SequenceSubmission([1, 2, 512], Greedy(4)),
            _ => new SequenceSubmission(Prompt(4, 1), Greedy(4), TimeSpan.Zero),
        };
        var e = Assert.ThrowsAny<ArgumentException>(() => h.Scheduler.Submit(submission));
        Assert.Contains(problem switch { "empty" => "empty", "sampling" => "Temperature", "vocabulary" => "vocabulary", _ => "Timeout" }, e.Message);
        Assert.Equal(0, h.Scheduler.Snapshot().Waiting);
    }

    [Fact]
    public async Task PromptPlusMaxTokensBeyondTheContextIsRefused()
    {
        await using var h = new SchedulerHarness(ranks: 1);
        var e = Assert.Throws<ContextLengthExceededException>(() => h.Submit(Prompt(250, 1), Greedy(7)));
        Assert.Equal(250, e.PromptTokens);
        Assert.Equal(7, e.MaxTokens);
        Assert.Equal(256, e.MaxModelLength);
        Assert.Contains("257 tokens", e.Message);
        h.Submit(Prompt(250, 1), Greedy(6)); // exactly the context fits
        Assert.Equal(1, h.Scheduler.Snapshot().Waiting);
    }

    private static IReadOnlyList<long> Ids(StepCall call) => [.. call.Request.Sequences.Select(s => s.SequenceId)];

    private static SequenceWork Part(StepCall call, long id) => call.Request.Sequences.Single(s => s.SequenceId == id);
}

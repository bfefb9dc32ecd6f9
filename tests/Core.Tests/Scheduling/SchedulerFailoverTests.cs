using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using static Llama4Cluster.Core.Tests.Scheduling.SchedulerHarness;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>
/// Failover in the one batching loop: a rank that fails moves its sequences to ranks that are up, where each is
/// re-prefilled from the scheduler's token record; every stream must end with exactly the tokens of a fault-free run
/// (the fake's next token is a function of the whole history fed, so a lost, repeated or reordered token changes it).
/// </summary>
public sealed class SchedulerFailoverTests
{
    [Fact]
    public async Task ADeadRanksSequencesMoveToTheLiveRankWithEveryTokenUnchanged()
    {
        await using var h = new SchedulerHarness(ranks: 2);
        var gate = h.Backend.Gate = new StepGate();
        var prompts = Enumerable.Range(0, 4).Select(i => Prompt(5 + i, i)).ToArray();
        var handles = prompts.Select(p => h.Submit(p, Greedy(8))).ToArray(); // ranks 0, 1, 0, 1
        await h.StartAsync();

        // Three steps on both ranks (prefill and two decodes), then rank 1 dies with its state.
        gate.Allow(6);
        for (int i = 0; i < 6; i++) await gate.ArrivalAsync();
        await gate.ArrivalAsync();
        await gate.ArrivalAsync();
        h.Backend.Kill(1);
        gate.Open();

        for (int i = 0; i < prompts.Length; i++)
        {
            var o = await OutcomeAsync(handles[i]);
            Assert.Equal(h.Backend.Reference(prompts[i], 8), o.Tokens);
            Assert.Equal(FinishReason.Length, o.Reason);
        }

        Assert.Empty(h.Backend.ProtocolErrors);
        Assert.Equal(2, h.Scheduler.Failovers);
        // Rank 1's sequences re-started on rank 0 under fresh rank ids, with their prompt and the 3 tokens each had
        // generated, the sampler told so.
        var restarts = h.Backend.Steps.Where(c => c.Rank == 0).SelectMany(c => c.Request.Sequences).Where(s => s.Start is { GeneratedTokens: > 0 }).ToList();
        Assert.Equal(2, restarts.Count);
        foreach (int i in new[] { 1, 3 })
        {
            var restart = Assert.Single(restarts, r => r.Tokens.ToArray().SequenceEqual([.. prompts[i], .. h.Backend.Reference(prompts[i], 3)]));
            Assert.Equal(3, restart.Start!.GeneratedTokens);
            Assert.NotEqual(handles[i].Id, restart.SequenceId);
        }

        Assert.Equal(1, h.Scheduler.RanksUp); // rank 1 stays out while it does not answer
        h.Backend.Revive(1);
        await WaitUntilAsync(() => h.Scheduler.RanksUp == 2);
        var later = Enumerable.Range(0, 2).Select(i => h.Submit(Prompt(6, 40 + i), Greedy(3))).ToArray();
        for (int i = 0; i < later.Length; i++) Assert.Equal(h.Backend.Reference(Prompt(6, 40 + i), 3), (await OutcomeAsync(later[i])).Tokens);
        Assert.Contains(h.Backend.Steps, c => c.Rank == 1 && Ids(c).Intersect(later.Select(x => x.Id)).Any());
    }

    [Fact]
    public async Task WhileEveryRankIsDownSequencesWaitAndResumeWhenOneAnswers()
    {
        await using var h = new SchedulerHarness(ranks: 1);
        var gate = h.Backend.Gate = new StepGate();
        var prompt = Prompt(6, 7);
        var handle = h.Submit(prompt, Greedy(6));
        await h.StartAsync();
        gate.Allow(2);
        await gate.ArrivalAsync();
        await gate.ArrivalAsync();
        await gate.ArrivalAsync();
        h.Backend.Kill(0);
        gate.Open();

        await WaitUntilAsync(() => h.Backend.Probes >= 2); // probed again and again while it is gone
        Assert.False(handle.Events.Completion.IsCompleted);
        h.Backend.Revive(0);
        var o = await OutcomeAsync(handle);
        Assert.Equal(h.Backend.Reference(prompt, 6), o.Tokens);
        Assert.Empty(h.Backend.ProtocolErrors);
    }

    [Fact]
    public async Task ASequenceWhoseRankKeepsFailingEndsAfterTheFailoverLimitWithTheCauseNamed()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxFailovers = 2);
        await h.StartAsync();
        var error = new InvalidOperationException("device lost");
        var gate = h.Backend.Gate = new StepGate();
        var handle = h.Submit(Prompt(4, 1), Greedy(5));
        await gate.ArrivalAsync();
        for (int i = 0; i < 3; i++)
        {
            h.Backend.FailNextStep(0, error);
            gate.Allow(1);
            if (i < 2) await gate.ArrivalAsync(); // the next step's arrival: the failed one has been taken
        }

        gate.Open();
        var failed = (await OutcomeAsync(handle)).Failed<SequenceFailedException>();
        Assert.Contains("failed 3 times", failed.Message);
        Assert.Contains("MaxFailovers", failed.Message);
        Assert.Same(error, failed.InnerException);
        Assert.Equal(2, h.Scheduler.Failovers);
    }

    [Fact]
    public async Task LostAnswersMoveSequencesWithoutTakingTheRankOutOrCountingAgainstTheLimit()
    {
        await using var h = new SchedulerHarness(ranks: 1, o => o.MaxFailovers = 1);
        var gate = h.Backend.Gate = new StepGate();
        var prompt = Prompt(5, 9);
        var handle = h.Submit(prompt, Greedy(6));
        await h.StartAsync();
        await gate.ArrivalAsync();
        for (int i = 0; i < 3; i++)
        {
            h.Backend.FailNextStep(0, new StepAnswerLostException("a silo on the way back died"));
            gate.Allow(1);
            await gate.ArrivalAsync(); // the next step's arrival: the failed one has been taken
        }

        gate.Open();
        Assert.Equal(h.Backend.Reference(prompt, 6), (await OutcomeAsync(handle)).Tokens);
        Assert.Equal(3, h.Scheduler.Failovers);
        Assert.Equal(0, h.Backend.Probes); // the rank never left rotation
        Assert.Empty(h.Backend.ProtocolErrors);
    }

    [Fact]
    public async Task ASequenceWhoseSamplingFailsEndsAloneAndTheOthersOfItsStepGoOn()
    {
        await using var h = new SchedulerHarness(ranks: 1);
        var prompts = Enumerable.Range(0, 3).Select(i => Prompt(4 + i, 20 + i)).ToArray();
        var handles = prompts.Select(p => h.Submit(p, Greedy(4))).ToArray();
        h.Backend.FailSamplingOf(handles[1].Id);
        await h.StartAsync();

        var failed = (await OutcomeAsync(handles[1])).Failed<SequenceFailedException>();
        Assert.Contains("Infinity", failed.Message);
        foreach (int i in new[] { 0, 2 }) Assert.Equal(h.Backend.Reference(prompts[i], 4), (await OutcomeAsync(handles[i])).Tokens);
        Assert.Equal(0, h.Scheduler.Failovers);
        Assert.Contains(h.StepLog, s => s.Failed == 1);
    }

    [Fact]
    public async Task EverySampledSequenceGetsASeedSoAMovedSamplerDrawsTheSame()
    {
        await using var h = new SchedulerHarness(ranks: 1);
        var sampled = h.Submit(Prompt(4, 3), new SamplingParams { Temperature = 0.8f, MaxTokens = 2 });
        var seeded = h.Submit(Prompt(4, 4), new SamplingParams { Temperature = 0.8f, Seed = 42, MaxTokens = 2 });
        var greedy = h.Submit(Prompt(4, 5), Greedy(2));
        await h.StartAsync();
        foreach (var x in new[] { sampled, seeded, greedy }) await OutcomeAsync(x);

        Assert.NotNull(h.Backend.StartOf(sampled.Id).Sampling.Seed);
        Assert.Equal(42, h.Backend.StartOf(seeded.Id).Sampling.Seed);
        Assert.Null(h.Backend.StartOf(greedy.Id).Sampling.Seed);
    }

    [Fact]
    public void ASamplerResumedAfterItsDrawsContinuesTheSeededSequence()
    {
        var p = new SamplingParams { Temperature = 1f, Seed = 7, MaxTokens = 8 };
        var logits = Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i)).ToArray();
        var whole = new Sampler(p, []);
        var drawn = Enumerable.Range(0, 6).Select(_ => whole.Sample(logits, [], []).TokenId).ToArray();
        var resumed = new Sampler(p, []);
        resumed.SkipSamples(3);
        Assert.Equal(drawn[3..], Enumerable.Range(0, 3).Select(_ => resumed.Sample(logits, [], []).TokenId));
    }

    private static IReadOnlyList<long> Ids(StepCall call) => [.. call.Request.Sequences.Select(s => s.SequenceId)];

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bounds.Wait;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the condition did not hold in time");
            await Task.Delay(10);
        }
    }
}

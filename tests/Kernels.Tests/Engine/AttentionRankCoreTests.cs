using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;

namespace Llama4Cluster.Kernels.Tests.Engine;

/// <summary>
/// The attention-rank core that the local engine and the attention grain share: its step protocol (validated whole
/// before any state changes), pass packing (a step split into passes computes what one pass does), and the failure
/// hook (a failed step drops exactly its sequences and says which).
/// </summary>
public sealed class AttentionRankCoreTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "l4c-rank-core-" + Guid.NewGuid().ToString("N"));
    private readonly LocalEngine _engine;

    public AttentionRankCoreTests()
    {
        TinyCheckpointWriter.Write(_dir, Llama4Presets.TinyScout, new TinyCheckpointOptions { Seed = 9 });
        _engine = LocalEngine.Load(_dir, new LocalEngineOptions());
    }

    public void Dispose()
    {
        _engine.Dispose();
        if (Directory.Exists(_dir)) Directory.Delete(_dir, recursive: true);
    }

    private static SequenceSettings Greedy(int? topLogprobs = null) =>
        new(new SamplingParams { Temperature = 0, TopLogprobs = topLogprobs }, [2]);

    private static SequenceWork Start(long id, params int[] tokens) => new(id, tokens, Greedy(2), Sample: true);

    [Fact]
    public async Task AStepIsValidatedWholeBeforeAnyStateChanges()
    {
        using var core = new AttentionRankCore(_engine.Model, rank: 3);
        await core.StepAsync(new RankStep(1, [Start(10, 5, 6, 7)]));
        Assert.Equal(1, core.SequenceCount);

        // Each bad step also carries a new sequence: it must not be created when the step is refused.
        var bad = new (RankStep Step, string Message)[]
        {
            (new RankStep(2, [Start(11, 4), Start(10, 8)]), "already running on rank 3"),
            (new RankStep(3, [Start(11, 4), new SequenceWork(99, new[] { 8 }, null, Sample: true)]), "unknown on rank 3"),
            (new RankStep(4, [Start(11, 4), Start(11, 5)]), "appears twice"),
            (new RankStep(5, [Start(11, 4), new SequenceWork(10, Array.Empty<int>(), null, Sample: true)]), "at least one new token"),
            (new RankStep(6, []), "at least one sequence"),
        };
        foreach (var (step, message) in bad)
        {
            var e = await Assert.ThrowsAsync<ArgumentException>(() => core.StepAsync(step));
            Assert.Contains(message, e.Message);
            Assert.Equal(1, core.SequenceCount);
        }
    }

    [Fact]
    public async Task PassesUnderATokenBudgetComputeWhatOnePassDoes()
    {
        var prompts = new[] { new[] { 5, 9, 14, 3, 8, 21, 7 }, new[] { 30, 2 }, new[] { 11, 12, 13, 40, 41 } };
        async Task<(int[] Tokens, float[] Logits)> Run(int? budget)
        {
            using var core = new AttentionRankCore(_engine.Model, maxPassTokens: budget is null ? null : _ => budget.Value);
            var step = new RankStep(1, prompts.Select((p, i) => new SequenceWork(i, p, Greedy(2), Sample: true, ReturnLogits: i == 1)).ToArray());
            var result = await core.StepAsync(step);
            var decode = await core.StepAsync(new RankStep(2, result.Samples.Select(s => new SequenceWork(s.SequenceId, new[] { s.Token.TokenId }, null, true)).ToArray()));
            return ([.. result.Samples.Concat(decode.Samples).Select(s => s.Token.TokenId)], result.Logits!);
        }

        var whole = await Run(null);
        var split = await Run(3); // 14 prompt tokens in passes of at most 3: sequences cut mid-prompt
        Assert.Equal(whole.Tokens, split.Tokens);
        Assert.Equal(2 * _engine.Model.Config.VocabSize, whole.Logits.Length);
        for (int i = 0; i < whole.Logits.Length; i++) Assert.Equal(whole.Logits[i], split.Logits[i], 1e-5f);
    }

    [Fact]
    public async Task AFailedStepDropsExactlyItsSequencesAndSaysWhich()
    {
        using var core = new AttentionRankCore(_engine.Model);
        var dropped = new List<long>();
        core.SequencesDropped += (ids, _) => dropped.AddRange(ids);
        await core.StepAsync(new RankStep(1, [Start(1, 5, 6), Start(2, 7, 8)]));

        int outside = _engine.Model.Config.VocabSize; // fails inside the forward pass, after the step was admitted
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            core.StepAsync(new RankStep(2, [new SequenceWork(1, new[] { outside }, null, Sample: true), Start(3, 4)])));

        Assert.Equal([1L, 3L], dropped.Order());
        Assert.Equal(1, core.SequenceCount); // sequence 2 was not in the failed step and lives on
        var next = await core.StepAsync(new RankStep(3, [new SequenceWork(2, new[] { 9 }, null, Sample: true), Start(1, 5, 6)]));
        Assert.Equal(2, next.Samples.Count); // the dropped sequence can start again (a re-prefill)
        core.Release([1, 2, 12345]);
        Assert.Equal(0, core.SequenceCount);
    }

    [Fact]
    public async Task ASequenceReprefilledWithItsGeneratedTokensContinuesExactlyAsWithoutTheFault()
    {
        // Seeded sampling with every penalty on: the resumed sampler must know which fed tokens are output and skip the
        // draws already taken, or its next tokens differ.
        var sampling = new SamplingParams
        {
            Temperature = 0.9f, TopK = 20, Seed = 77, RepetitionPenalty = 1.3f, PresencePenalty = 0.4f, FrequencyPenalty = 0.3f, MaxTokens = 12,
        };
        int[] prompt = [5, 9, 14, 3, 8, 21, 7];
        async Task<List<int>> Decode(AttentionRankCore core, long id, SequenceWork first, int count)
        {
            var tokens = new List<int>();
            var result = await core.StepAsync(new RankStep(1, [first]));
            tokens.Add(result.Samples[0].Token.TokenId);
            for (int i = 1; i < count; i++)
            {
                result = await core.StepAsync(new RankStep(1 + i, [new SequenceWork(id, new[] { tokens[^1] }, null, Sample: true)]));
                tokens.Add(result.Samples[0].Token.TokenId);
            }

            return tokens;
        }

        using var whole = new AttentionRankCore(_engine.Model);
        var reference = await Decode(whole, 1, new SequenceWork(1, prompt, new SequenceSettings(sampling, [2]), Sample: true), 10);

        // Failover after 4 tokens: a fresh rank gets the prompt and those 4 tokens, told they are output.
        using var other = new AttentionRankCore(_engine.Model);
        var resumed = await Decode(other, 2, new SequenceWork(2, prompt.Concat(reference[..4]).ToArray(), new SequenceSettings(sampling, [2], GeneratedTokens: 4), Sample: true), 6);
        Assert.Equal(reference[4..], resumed);
    }

    [Fact]
    public async Task ASequenceWhoseSamplingFailsIsDroppedAloneAndTheOthersGetTheirSamples()
    {
        using var core = new AttentionRankCore(_engine.Model);
        var bad = new SequenceSettings(new SamplingParams { Temperature = 0, TopLogprobs = 2 }, [2]);
        await core.StepAsync(new RankStep(1, [Start(1, 5, 6), new SequenceWork(2, new[] { 7, 8 }, bad, Sample: true), Start(3, 9)]));

        // A resumed sequence announcing more generated tokens than were fed cannot sample: it alone fails.
        var inconsistent = new SequenceSettings(new SamplingParams { Temperature = 0 }, [2], GeneratedTokens: 5);
        var result = await core.StepAsync(new RankStep(2, [
            new SequenceWork(4, new[] { 5, 6 }, inconsistent, Sample: true),
            new SequenceWork(1, new[] { 11 }, null, Sample: true),
        ]));
        Assert.Equal([1L], result.Samples.Select(x => x.SequenceId));
        var failure = Assert.Single(result.Failures!);
        Assert.Equal(4, failure.SequenceId);
        Assert.Contains("5 generated tokens announced, 2 tokens fed", failure.Error);
        Assert.Equal(3, core.SequenceCount); // 4 dropped; 1, 2 and 3 still there
    }

    [Fact]
    public async Task TheLeaseEvictsOnlySequencesNoStepTouched()
    {
        var clock = new SteppedClock();
        using var core = new AttentionRankCore(_engine.Model, time: clock);
        await core.StepAsync(new RankStep(1, [Start(1, 5, 6), Start(2, 7, 8)]));
        clock.Advance(TimeSpan.FromSeconds(90));
        var next = await core.StepAsync(new RankStep(2, [new SequenceWork(1, new[] { 9 }, null, Sample: true)]));
        Assert.Single(next.Samples);
        clock.Advance(TimeSpan.FromSeconds(60));

        Assert.Equal([2L], core.EvictIdle(TimeSpan.FromMinutes(2))); // 150 s idle; sequence 1 was touched 60 s ago
        Assert.Equal(1, core.SequenceCount);
        Assert.Empty(core.EvictIdle(TimeSpan.FromMinutes(2)));
    }

    private sealed class SteppedClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }
}

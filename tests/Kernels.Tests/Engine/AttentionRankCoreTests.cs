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
}

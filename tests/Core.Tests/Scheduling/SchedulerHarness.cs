using System.Collections.Concurrent;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Core.Sampling;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Core.Tests.Scheduling;

/// <summary>A <see cref="ContinuousBatchScheduler"/> over a <see cref="FakeStepBackend"/> with a manual clock; stops it on dispose.</summary>
internal sealed class SchedulerHarness : IAsyncDisposable
{
    private bool _started;

    public SchedulerHarness(int ranks = 1, Action<SchedulerOptions>? configure = null, Func<IReadOnlyList<int>, int>? next = null,
        ModelLimits? model = null)
    {
        Backend = new FakeStepBackend(ranks, next);
        var options = new SchedulerOptions();
        configure?.Invoke(options);
        Scheduler = new ContinuousBatchScheduler(Backend, model ?? TestModel.Limits, Options.Create(options),
            NullLogger<ContinuousBatchScheduler>.Instance, Time);
        Scheduler.StepCompleted += StepLog.Enqueue;
    }

    public FakeStepBackend Backend { get; }

    public ContinuousBatchScheduler Scheduler { get; }

    public ManualTimeProvider Time { get; } = new();

    public ConcurrentQueue<SchedulerStepInfo> StepLog { get; } = new();

    public static int[] Prompt(int length, int seed) => Enumerable.Range(0, length).Select(i => 3 + (seed * 31 + i * 7) % 250).ToArray();

    public static SamplingParams Greedy(int maxTokens) => new() { MaxTokens = maxTokens };

    public Task StartAsync()
    {
        _started = true;
        return Scheduler.StartAsync(CancellationToken.None);
    }

    public async Task StopAsync()
    {
        _started = false;
        await Scheduler.StopAsync(CancellationToken.None);
    }

    public SequenceHandle Submit(IReadOnlyList<int> prompt, SamplingParams sampling, TimeSpan? timeout = null,
        CancellationToken cancellationToken = default) =>
        Scheduler.Submit(new SequenceSubmission(prompt, sampling, timeout, cancellationToken));

    /// <summary>Every event of <paramref name="handle"/> until its channel completes; checks tokens come first, then exactly one end.</summary>
    public static async Task<Outcome> ReadAllAsync(SequenceHandle handle)
    {
        var tokens = new List<SampledToken>();
        SequenceEvent? end = null;
        await foreach (var e in handle.Events.ReadAllAsync().WithCancellation(CancellationToken.None).ConfigureAwait(false))
        {
            Assert.Null(end); // nothing after the end event
            if (e is TokenEvent t) tokens.Add(t.Token);
            else end = e;
        }

        Assert.NotNull(end);
        return new Outcome(tokens.Select(t => t.TokenId).ToList(), tokens, end);
    }

    public static Task<Outcome> OutcomeAsync(SequenceHandle handle) => ReadAllAsync(handle).WaitAsync(Bounds.Wait);

    /// <summary>Every step request rank by rank in step order.</summary>
    public List<StepCall> StepsInOrder() => [.. Backend.Steps.OrderBy(c => c.Request.Step).ThenBy(c => c.Rank)];

    public async ValueTask DisposeAsync()
    {
        Backend.Gate?.Open();
        if (_started) await Scheduler.StopAsync(CancellationToken.None);
        Scheduler.Dispose();
    }
}

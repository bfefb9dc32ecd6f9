using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// A fixed batch of requests run to completion through <see cref="ContinuousBatchScheduler"/>: the same step loop the
/// gateway serves with, over any <see cref="IStepBackend"/> (one process or the cluster). Every request is admitted at
/// once (no queue, no KV budget), prompts are prefilled in chunks under <c>maxStepTokens</c> with decodes first, and
/// each sequence ends on a stop/EOS token or at its max tokens. The CLI's <c>generate</c> and the benchmarks run this.
/// </summary>
public static class BatchGeneration
{
    /// <summary>
    /// Generates every request. <paramref name="onToken"/> receives (request index, token) as each sequence's tokens
    /// arrive, in order per sequence, one call at a time. Invalid requests throw <see cref="ArgumentException"/> naming the request before any
    /// step runs; a step that fails throws its rank's error; cancellation stops the loop and throws
    /// <see cref="OperationCanceledException"/>.
    /// </summary>
    public static Task<(IReadOnlyList<GenerationResult> Results, GenerationTimings Timings)> RunAsync(
        IStepBackend backend, ModelLimits model, int maxStepTokens, IReadOnlyList<GenerationRequest> requests,
        Action<int, SampledToken>? onToken = null, CancellationToken cancellationToken = default) =>
        RunAsync(backend, model, new BatchGenerationOptions { MaxStepTokens = maxStepTokens }, requests, onToken, cancellationToken);

    /// <summary>As the overload above, with the step policy and a step observer in <paramref name="settings"/>.</summary>
    public static async Task<(IReadOnlyList<GenerationResult> Results, GenerationTimings Timings)> RunAsync(
        IStepBackend backend, ModelLimits model, BatchGenerationOptions settings, IReadOnlyList<GenerationRequest> requests,
        Action<int, SampledToken>? onToken = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(settings);
        ArgumentNullException.ThrowIfNull(requests);
        if (requests.Count == 0) return ([], new GenerationTimings(0, 0, 0, 0, 0));
        ArgumentOutOfRangeException.ThrowIfLessThan(settings.MaxStepTokens, 1);

        int n = requests.Count;
        var options = new SchedulerOptions
        {
            MaxRunningSequences = n,
            MaxWaitingRequests = n,
            MaxStepTokens = Math.Max(settings.MaxStepTokens, n),
            PrefillFirst = settings.PrefillFirst,
            KvTokenCapacity = Math.Max(model.MaxModelLength, requests.Sum(r => (long)r.PromptTokens.Count + r.Sampling.MaxTokens)),
            DefaultTimeout = Timeout.InfiniteTimeSpan,
        };
        using var scheduler = new ContinuousBatchScheduler(backend, model, Options.Create(options), NullLogger<ContinuousBatchScheduler>.Instance);
        var timings = new TimingsCollector();
        scheduler.StepCompleted += timings.Add;
        if (settings.StepCompleted is { } observer) scheduler.StepCompleted += observer;

        var handles = new SequenceHandle[n];
        for (int i = 0; i < n; i++)
        {
            try
            {
                handles[i] = scheduler.Submit(new SequenceSubmission(requests[i].PromptTokens, requests[i].Sampling, Guidance: requests[i].Guidance,
                    Images: requests[i].Images));
            }
            catch (ArgumentException e)
            {
                throw new ArgumentException($"request {i}: {e.Message}", e);
            }
        }

        await scheduler.StartAsync(CancellationToken.None).ConfigureAwait(false);
        try
        {
            var failure = new FirstFailure(handles);
            using var cancel = cancellationToken.Register(() => failure.CancelAll());
            // Each sequence's events are read on their own task: the callback is called for one token at a time.
            var gate = new Lock();
            Action<int, SampledToken>? serial = onToken is null ? null : (i, t) =>
            {
                lock (gate) onToken(i, t);
            };
            var collecting = handles.Select((h, i) => CollectAsync(i, h, serial, failure)).ToArray();
            try
            {
                await Task.WhenAll(collecting).ConfigureAwait(false);
            }
            catch when (failure.Error is not null && !cancellationToken.IsCancellationRequested)
            {
                // The others were cancelled because of it: report the error that ended the batch, not a cancellation.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(failure.Error);
            }

            cancellationToken.ThrowIfCancellationRequested();
            return (collecting.Select(c => c.Result).ToArray(), timings.Result());
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static async Task<GenerationResult> CollectAsync(int index, SequenceHandle handle, Action<int, SampledToken>? onToken,
        FirstFailure failure)
    {
        var tokens = new List<int>();
        var details = new List<SampledToken>();
        await foreach (var e in handle.Events.ReadAllAsync().ConfigureAwait(false))
        {
            switch (e)
            {
                case TokenEvent t:
                    tokens.Add(t.Token.TokenId);
                    details.Add(t.Token);
                    onToken?.Invoke(index, t.Token);
                    break;
                case FinishedEvent f:
                    return new GenerationResult(tokens, details, f.Reason, f.StopTokenId);
                case FailedEvent f:
                    failure.Record(f.Error);
                    throw f.Error;
            }
        }

        throw new InvalidOperationException($"request {index}: the scheduler ended the sequence without a final event");
    }

    /// <summary>The first sequence error of the batch; it cancels the rest, since the batch has failed.</summary>
    private sealed class FirstFailure(SequenceHandle[] handles)
    {
        private Exception? _error;

        public Exception? Error => Volatile.Read(ref _error);

        public void Record(Exception error)
        {
            if (error is OperationCanceledException) return;
            if (Interlocked.CompareExchange(ref _error, error, null) is null) CancelAll();
        }

        public void CancelAll()
        {
            foreach (var h in handles) h.Cancel();
        }
    }

    /// <summary>Prefill time is that of the steps that feed prompt tokens; decode time that of the others.</summary>
    private sealed class TimingsCollector
    {
        private double _prefillSeconds, _decodeSeconds;
        private int _prefillTokens, _decodeTokens, _steps;

        public void Add(SchedulerStepInfo step)
        {
            _steps++;
            _prefillTokens += step.PrefillTokens;
            _decodeTokens += step.DecodeTokens;
            if (step.PrefillTokens > 0) _prefillSeconds += step.Duration.TotalSeconds;
            else _decodeSeconds += step.Duration.TotalSeconds;
        }

        public GenerationTimings Result() => new(_prefillSeconds, _prefillTokens, _decodeSeconds, _decodeTokens, _steps);
    }
}

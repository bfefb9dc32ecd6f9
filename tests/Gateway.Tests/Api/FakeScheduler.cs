using System.Collections.Concurrent;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Scheduling;
using Llama4Cluster.Core.Generation;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Core.Sampling;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>
/// A scripted <see cref="IGenerationScheduler"/>: a sequence whose prompt text contains a registered marker follows
/// that marker's <see cref="FakeScript"/> (of several, the one written last) (tokens, then an end; or a queue-full refusal), honours max tokens and
/// <see cref="SequenceHandle.Cancel"/>, and reports logprobs derived from the token ids when asked.
/// </summary>
internal sealed class FakeScheduler(Llama4Tokenizer tokenizer) : IGenerationScheduler
{
    private readonly ConcurrentDictionary<string, FakeScript> _scripts = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<FakeSequence> _sequences = new();
    private long _nextId;

    /// <summary>What <see cref="Snapshot"/> reports.</summary>
    public SchedulerSnapshot SnapshotValue { get; set; } = new(0, 0, 0, 1000, 0);

    public void On(string marker, FakeScript script) => _scripts[marker] = script;

    public IReadOnlyList<FakeSequence> SequencesFor(string marker) =>
        _sequences.Where(s => s.PromptText.Contains(marker, StringComparison.Ordinal)).ToList();

    public SchedulerSnapshot Snapshot() => SnapshotValue;

    public SequenceHandle Submit(SequenceSubmission submission)
    {
        submission.Sampling.Validate();
        var text = tokenizer.Decode(submission.PromptTokens);
        // The marker written last decides (a later turn, e.g. a tool result, picks the next answer of a conversation).
        var script = _scripts
            .Where(kv => text.Contains(kv.Key, StringComparison.Ordinal))
            .OrderByDescending(kv => text.LastIndexOf(kv.Key, StringComparison.Ordinal))
            .Select(kv => kv.Value)
            .FirstOrDefault()
            ?? throw new ArgumentException($"no fake script matches the prompt \"{text}\"");
        if (script.QueueFull)
        {
            throw new SchedulerQueueFullException(7, TimeSpan.FromSeconds(2.5));
        }

        var handle = new SequenceHandle(Interlocked.Increment(ref _nextId), submission.PromptTokens.Count, DateTimeOffset.UtcNow);
        var sequence = new FakeSequence(submission, handle, text);
        handle.Cancelled.Register(() => sequence.CancelObserved.TrySetResult());
        _sequences.Enqueue(sequence);
        var tokens = script.Tokens(submission);
        if (script.Gate is null && !script.Paced && script.End != FakeEnd.Hang)
        {
            Emit(handle, submission.Sampling, script, tokens);
        }
        else
        {
            _ = Task.Run(() => EmitAsync(handle, submission.Sampling, script, tokens));
        }

        return handle;
    }

    /// <summary>Logprobs of token <paramref name="id"/> at position <paramref name="position"/>: the chosen token is
    /// the most probable; alternatives are the next ids down.</summary>
    public static SampledToken Sample(int id, int position, SamplingParams sampling)
    {
        if (sampling.TopLogprobs is not { } k)
        {
            return new SampledToken(id, null, null);
        }

        var chosen = -0.25f * (position + 1);
        var top = Enumerable.Range(0, k).Select(j => new TokenLogprob(j == 0 ? id : (id + j) % 256, chosen - j)).ToList();
        return new SampledToken(id, chosen, top);
    }

    private void Emit(SequenceHandle handle, SamplingParams sampling, FakeScript script, IReadOnlyList<int> tokens)
    {
        var writer = handle.Writer;
        for (var i = 0; i < tokens.Count; i++)
        {
            if (i == sampling.MaxTokens)
            {
                writer.TryWrite(new FinishedEvent(FinishReason.Length, null));
                writer.TryComplete();
                return;
            }

            writer.TryWrite(new TokenEvent(Sample(tokens[i], i, sampling)));
        }

        writer.TryWrite(End(script, tokens.Count >= sampling.MaxTokens));
        writer.TryComplete();
    }

    private async Task EmitAsync(SequenceHandle handle, SamplingParams sampling, FakeScript script, IReadOnlyList<int> tokens)
    {
        var writer = handle.Writer;
        try
        {
            if (script.Gate is { } gate)
            {
                await gate.Task.WaitAsync(handle.Cancelled);
            }

            for (var i = 0; i < tokens.Count; i++)
            {
                handle.Cancelled.ThrowIfCancellationRequested();
                if (i == sampling.MaxTokens)
                {
                    writer.TryWrite(new FinishedEvent(FinishReason.Length, null));
                    return;
                }

                writer.TryWrite(new TokenEvent(Sample(tokens[i], i, sampling)));
                await Task.Yield();
            }

            if (script.End == FakeEnd.Hang)
            {
                await Task.Delay(Timeout.Infinite, handle.Cancelled);
            }

            writer.TryWrite(End(script, tokens.Count >= sampling.MaxTokens));
        }
        catch (OperationCanceledException e)
        {
            writer.TryWrite(new FailedEvent(e));
        }
        finally
        {
            writer.TryComplete();
        }
    }

    private SequenceEvent End(FakeScript script, bool atMaxTokens) => atMaxTokens && script.End is FakeEnd.Eos or FakeEnd.StopToken
        ? new FinishedEvent(FinishReason.Length, null)
        : script.End switch
        {
            FakeEnd.Eos => new FinishedEvent(FinishReason.Stop, tokenizer.EndOfTurn),
            FakeEnd.StopToken => new FinishedEvent(FinishReason.Stop, script.StopTokenId),
            FakeEnd.Length => new FinishedEvent(FinishReason.Length, null),
            FakeEnd.Fail => new FailedEvent(script.Error ?? new InvalidOperationException("scripted failure")),
            _ => throw new InvalidOperationException($"unexpected end {script.End}"),
        };
}

using System.Threading.Channels;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// A submitted sequence: its events (tokens, then one <see cref="FinishedEvent"/> or <see cref="FailedEvent"/>, then the
/// channel completes) and a way to stop it early (a stop string matched, the client left).
/// The scheduler writes; the HTTP layer reads.
/// </summary>
public sealed class SequenceHandle
{
    private readonly Channel<SequenceEvent> _events = Channel.CreateUnbounded<SequenceEvent>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });
    private readonly CancellationTokenSource _cancel = new();

    public SequenceHandle(long id, int promptTokens, DateTimeOffset submittedAt)
    {
        Id = id;
        PromptTokens = promptTokens;
        SubmittedAt = submittedAt;
    }

    /// <summary>The scheduler's id of this sequence (unique in the gateway's lifetime).</summary>
    public long Id { get; }

    public int PromptTokens { get; }

    public DateTimeOffset SubmittedAt { get; }

    private int _cachedTokens;

    /// <summary>Prompt tokens its attention rank took from its prefix cache instead of computing them (the usage's
    /// <c>prompt_tokens_details.cached_tokens</c>); final once the first token is out.</summary>
    public int CachedTokens
    {
        get => Volatile.Read(ref _cachedTokens);
        internal set => Volatile.Write(ref _cachedTokens, value);
    }

    public ChannelReader<SequenceEvent> Events => _events.Reader;

    /// <summary>The scheduler's side: where it writes this sequence's events.</summary>
    internal ChannelWriter<SequenceEvent> Writer => _events.Writer;

    /// <summary>Set by <see cref="Cancel"/>: the scheduler drops the sequence at its next step.</summary>
    public CancellationToken Cancelled => _cancel.Token;

    /// <summary>Stops generating (idempotent). The sequence's capacity is freed at the scheduler's next step;
    /// its events end with a <see cref="FailedEvent"/> holding an <see cref="OperationCanceledException"/>
    /// unless it had already finished.</summary>
    public void Cancel()
    {
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished and cleaned up.
        }
    }
}

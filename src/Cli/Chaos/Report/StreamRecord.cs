using System.Diagnostics;
using System.Text;

namespace Llama4Cluster.Cli.Chaos.Report;

/// <summary>
/// One streamed completion of a drill as the client received it: every token (as the server names it in the chunk's
/// <c>logprobs.tokens</c>), when each token-carrying event arrived (<see cref="Stopwatch"/> ticks), the text, the usage
/// count and how it ended. Filled by one reader; read once it has ended.
/// </summary>
public sealed class StreamRecord
{
    private readonly List<string> _tokens = [];
    private readonly List<long> _events = [];
    private readonly StringBuilder _text = new();

    public StreamRecord(int stream, int pass, long startTimestamp)
    {
        Stream = stream;
        Pass = pass;
        StartTimestamp = startTimestamp;
        EndTimestamp = startTimestamp;
    }

    /// <summary>Which prompt (0 … streams − 1): the stream of the fault-free round it is compared with.</summary>
    public int Stream { get; }

    /// <summary>0, or the repetition of that prompt when a round keeps its streams running (rolling restart).</summary>
    public int Pass { get; }

    public long StartTimestamp { get; }

    /// <summary>When the stream ended (its <c>[DONE]</c>, its error, or the broken connection).</summary>
    public long EndTimestamp { get; private set; }

    /// <summary>The tokens in the order they arrived.</summary>
    public IReadOnlyList<string> Tokens => _tokens;

    /// <summary>Arrival of every event that carried tokens, in order (several tokens may share one event).</summary>
    public IReadOnlyList<long> EventTimestamps => _events;

    public string Text => _text.ToString();

    /// <summary><c>usage.completion_tokens</c> of the last chunk, when one came.</summary>
    public int? CompletionTokens { get; private set; }

    public string? FinishReason { get; private set; }

    /// <summary>The stream reached <c>data: [DONE]</c> without an error.</summary>
    public bool Completed { get; private set; }

    /// <summary>Why the stream failed; null when it completed (or is still running).</summary>
    public string? Error { get; private set; }

    /// <summary>Adds one event's tokens and text, received at <paramref name="timestamp"/>.</summary>
    public void AddTokens(long timestamp, IReadOnlyCollection<string> tokens, string text)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        _text.Append(text);
        if (tokens.Count == 0) return;
        _tokens.AddRange(tokens);
        _events.Add(timestamp);
    }

    public void SetUsage(int completionTokens) => CompletionTokens = completionTokens;

    public void SetFinishReason(string reason) => FinishReason = reason;

    public void Complete(long timestamp)
    {
        Completed = true;
        EndTimestamp = timestamp;
    }

    public void Fail(long timestamp, string error)
    {
        Completed = false;
        Error = error;
        EndTimestamp = timestamp;
    }

    /// <summary>The first event after <paramref name="timestamp"/>, if any.</summary>
    public long? FirstEventAfter(long timestamp)
    {
        foreach (long e in _events)
            if (e > timestamp) return e;
        return null;
    }

    /// <summary>Whether the stream was running at <paramref name="timestamp"/> (started before, ended after).</summary>
    public bool RunningAt(long timestamp) => StartTimestamp <= timestamp && EndTimestamp > timestamp;
}

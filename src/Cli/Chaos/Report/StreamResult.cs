namespace Llama4Cluster.Cli.Chaos.Report;

/// <summary>One stream of a round, judged against the fault-free run of the same prompt.</summary>
public sealed record StreamResult
{
    public required StreamRecord Record { get; init; }

    /// <summary>The fault-free run's token count for this prompt.</summary>
    public required int ExpectedTokens { get; init; }

    public required StreamDiff Diff { get; init; }

    /// <summary>Completed with exactly the fault-free tokens, text, token count and finish reason.</summary>
    public required bool Identical { get; init; }

    /// <summary>Lost by design (a killed gateway's own in-flight stream): reported, not counted as a failure.</summary>
    public bool ExpectedLoss { get; init; }

    /// <summary>The longest gap between two token events of this stream, in seconds (0 with fewer than two events).</summary>
    public required double MaxStallSeconds { get; init; }

    /// <summary>Counts against the drill: failed, changed, or lost or duplicated a token, unless lost by design.</summary>
    public bool Bad => !ExpectedLoss && !Identical;

    /// <summary>Judges <paramref name="record"/> against <paramref name="baseline"/> (the same prompt, fault-free).</summary>
    public static StreamResult Judge(StreamRecord record, StreamRecord baseline, bool expectedLoss)
    {
        ArgumentNullException.ThrowIfNull(record);
        ArgumentNullException.ThrowIfNull(baseline);
        var diff = StreamComparison.Compare(baseline.Tokens, record.Tokens);
        bool identical = record.Completed && diff.Same && record.Tokens.Count == baseline.Tokens.Count
                         && record.Text == baseline.Text && record.CompletionTokens == baseline.CompletionTokens
                         && record.FinishReason == baseline.FinishReason;
        return new StreamResult
        {
            Record = record,
            ExpectedTokens = baseline.Tokens.Count,
            Diff = diff,
            Identical = identical,
            ExpectedLoss = expectedLoss && !identical,
            MaxStallSeconds = MaxGapSeconds(record.EventTimestamps),
        };
    }

    /// <summary>The largest difference between consecutive timestamps, in seconds.</summary>
    public static double MaxGapSeconds(IReadOnlyList<long> timestamps)
    {
        ArgumentNullException.ThrowIfNull(timestamps);
        long max = 0;
        for (int i = 1; i < timestamps.Count; i++) max = Math.Max(max, timestamps[i] - timestamps[i - 1]);
        return max / (double)System.Diagnostics.Stopwatch.Frequency;
    }

    /// <summary>The gap between this stream's last token event at or before <paramref name="fault"/> and its first after it
    /// (null when the stream has no event on one side).</summary>
    public double? GapAcrossSeconds(long fault)
    {
        long? before = null, after = null;
        foreach (long e in Record.EventTimestamps)
        {
            if (e <= fault) before = e;
            else
            {
                after = e;
                break;
            }
        }
        return before is { } b && after is { } a ? FaultTiming.Seconds(b, a) : null;
    }
}

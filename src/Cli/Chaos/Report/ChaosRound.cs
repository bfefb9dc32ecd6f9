namespace Llama4Cluster.Cli.Chaos.Report;

/// <summary>
/// One round of a drill: the fault-free run every stream is compared with, the run with the fault, or the run after it.
/// Aggregates its streams' results; times are measured from <see cref="FaultTimestamp"/> when the round had the fault.
/// </summary>
public sealed class ChaosRound
{
    public const string FaultFree = "fault-free";
    public const string Fault = "fault";
    public const string After = "after";

    public ChaosRound(string name, IReadOnlyList<StreamResult> results, long? faultTimestamp = null, IReadOnlyList<ClusterSample>? samples = null)
    {
        ArgumentNullException.ThrowIfNull(results);
        Name = name;
        Results = results;
        FaultTimestamp = faultTimestamp;
        Samples = samples ?? [];
    }

    public string Name { get; }

    public IReadOnlyList<StreamResult> Results { get; }

    /// <summary>When the fault was injected (<see cref="System.Diagnostics.Stopwatch"/> ticks); null for a round without one.</summary>
    public long? FaultTimestamp { get; }

    public IReadOnlyList<ClusterSample> Samples { get; }

    public int Streams => Results.Count;

    public int Completed => Results.Count(r => r.Record.Completed);

    public int Identical => Results.Count(r => r.Identical);

    /// <summary>Streams that count against the drill (failed or changed, not lost by design).</summary>
    public int Bad => Results.Count(r => r.Bad);

    /// <summary>Streams lost by design (a killed gateway's own).</summary>
    public int ExpectedLosses => Results.Count(r => r.ExpectedLoss);

    /// <summary>Tokens lost by streams that count; <see cref="LostByDesign"/> holds the rest.</summary>
    public int Lost => Results.Where(r => !r.ExpectedLoss).Sum(r => r.Diff.Lost);

    public int LostByDesign => Results.Where(r => r.ExpectedLoss).Sum(r => r.Diff.Lost);

    public int Duplicated => Results.Sum(r => r.Diff.Duplicated);

    public int Changed => Results.Sum(r => r.Diff.Changed);

    /// <summary>The longest gap between two token events of one stream, over every stream of the round.</summary>
    public double MaxStallSeconds => Results.Count == 0 ? 0 : Results.Max(r => r.MaxStallSeconds);

    /// <summary>The longest gap across the fault (last token before it to first after it) over the streams that had both.</summary>
    public double? FaultStallSeconds =>
        FaultTimestamp is { } f ? Results.Select(r => r.GapAcrossSeconds(f)).Max() : null;

    public double? DetectSeconds => FaultTimestamp is { } f ? FaultTiming.DetectSeconds(f, Samples, Results.Select(r => r.Record)) : null;

    public double? HealSeconds => FaultTimestamp is { } f ? FaultTiming.HealSeconds(f, Samples, Results.Select(r => r.Record)) : null;

    /// <summary>Judges every record of a round against the fault-free records of the same prompt.</summary>
    /// <param name="expectedLoss">Which failures are by design (null: none).</param>
    public static ChaosRound Judge(string name, IReadOnlyList<StreamRecord> records, IReadOnlyList<StreamRecord> baseline, long? faultTimestamp = null,
        IReadOnlyList<ClusterSample>? samples = null, Func<StreamRecord, bool>? expectedLoss = null)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(baseline);
        var results = records.OrderBy(r => r.Stream).ThenBy(r => r.Pass)
            .Select(r => StreamResult.Judge(r, baseline[r.Stream], expectedLoss?.Invoke(r) ?? false)).ToList();
        return new ChaosRound(name, results, faultTimestamp, samples);
    }

    /// <summary>The fault-free round: each stream is its own reference; it counts when it failed.</summary>
    public static ChaosRound Reference(IReadOnlyList<StreamRecord> records) => Judge(FaultFree, records, records);
}

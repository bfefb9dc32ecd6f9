using Llama4Cluster.Contracts.Attention;

namespace Llama4Cluster.Cli.Commands;

/// <summary>One batch size of <c>bench cluster</c>: the step-time ratio, the dispatch transport against raw TCP, messages per
/// step, rank 0's step breakdown and every pipeline stage's costs over the decode window.</summary>
internal sealed record ClusterBenchmarkCase(int Batch, double LocalStepMs, double ClusterStepMs, double Messages, long DispatchBytesPerStep, long PayloadBytes,
    double TransportBytesPerSecond, double TcpBytesPerSecond, double? RemoteTcpBytesPerSecond, StepBreakdown Breakdown, IReadOnlyList<StageCost> Stages,
    IdleRoundTrip Idle)
{
    /// <summary>Each silo's share of the decode window spent running passes of the stages it holds (summed, at most 1).</summary>
    public IEnumerable<(string Silo, double BusyFraction)> Silos =>
        Stages.GroupBy(s => s.Silo).Select(g => (g.Key, Math.Min(1, g.Sum(s => s.BusyFraction))));
}

/// <summary>One dispatch payload's median round trip through the cluster's transport and through raw TCP, each after the same
/// pause (both sides' threads asleep, as between the dispatches of a decode step); the bar: ≤ 2× raw.</summary>
internal sealed record IdleRoundTrip(double TransportMicroseconds, double RawTcpMicroseconds)
{
    public double Ratio => TransportMicroseconds / RawTcpMicroseconds;
}

/// <summary>
/// Where a decode step's time went, per step, from the attention rank's counters: inside the rank's <c>StepAsync</c>, of
/// which waiting for expert shards, and the compute the shards reported. The rest of the cluster step is the engine's
/// call into the rank; the rest of the wait is transport and scheduling.
/// </summary>
internal sealed record StepBreakdown(double RankMs, double DispatchWaitMs, double ShardComputeMs)
{
    public static StepBreakdown Between(AttentionRankInfo a, AttentionRankInfo b) =>
        new(b.StepMilliseconds - a.StepMilliseconds, b.DispatchWaitMilliseconds - a.DispatchWaitMilliseconds,
            b.ShardComputeMilliseconds - a.ShardComputeMilliseconds);

    public StepBreakdown Minus(StepBreakdown o) => new(RankMs - o.RankMs, DispatchWaitMs - o.DispatchWaitMs, ShardComputeMs - o.ShardComputeMs);

    public StepBreakdown PerStep(int steps) => new(RankMs / steps, DispatchWaitMs / steps, ShardComputeMs / steps);
}

/// <summary>
/// One pipeline stage of one rank over the decode window, per decode step: <see cref="ComputeMs"/> its own layers (time in its
/// pass less the wait on the next stage and on the expert shards), <see cref="HandOffMs"/> waiting for the next stage's answer
/// (the later stages' whole pass, hand-off transfers included), <see cref="DispatchMs"/> waiting for its MoE layers' expert
/// shards; <see cref="BusyFraction"/> the share of the decode window's wall time it was running a pass of its own layers
/// (compute + dispatch), and <see cref="Bubble"/> the rest: the stage idle. With one rank the stages run one after another, so
/// each idles while the others work; ranks interleaving through the stages fill that.
/// </summary>
internal sealed record StageCost(int Rank, int Stage, string Layers, string Silo, double ComputeMs, double HandOffMs, double DispatchMs, double BusyFraction)
{
    public double Bubble => 1 - BusyFraction;

    /// <summary>The decode window's share of the counters: the full run (<paramref name="before"/> → <paramref name="after"/>)
    /// less a prefill-only run of the same prompts (<paramref name="start"/> → <paramref name="before"/>).</summary>
    public static StageCost Of(AttentionRankInfo start, AttentionRankInfo before, AttentionRankInfo after, int decodeSteps, double decodeWallMs)
    {
        double Decode(Func<AttentionRankInfo, double> f) => Math.Max(0, f(after) - f(before) - (f(before) - f(start)));
        double step = Decode(i => i.StepMilliseconds), handOff = Decode(i => i.HandOffWaitMilliseconds), dispatch = Decode(i => i.DispatchWaitMilliseconds);
        double busy = Math.Max(0, step - handOff);
        double compute = Math.Max(0, busy - dispatch);
        int steps = Math.Max(1, decodeSteps);
        double fraction = decodeWallMs > 0 ? Math.Clamp(busy / decodeWallMs, 0, 1) : 0;
        return new StageCost(after.Rank, after.Stage, after.StageLayers, after.Silo, compute / steps, handOff / steps, dispatch / steps, fraction);
    }
}

using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cli.Cluster;
using Llama4Cluster.Cli.Ui;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cli.Commands;

/// <summary><c>bench cluster</c>'s output: tables on stdout, or with <c>--json</c> exactly one JSON object.</summary>
internal static class ClusterBenchmarkReport
{
    private static string F(double v, string f = "F2") => v.ToString(f, CultureInfo.InvariantCulture);

    public static void Table(string model, Llama4TextConfig config, LocalClusterOptions options, int decodeSteps, IReadOnlyList<ClusterBenchmarkCase> cases)
    {
        Console.WriteLine($"model: {model} (hidden {config.HiddenSize}, {config.NumLocalExperts} experts, top-{config.NumExpertsPerToken}, {config.NumHiddenLayers} layers); " +
                          $"{options.Silos} silo processes, {options.AttentionRanks} rank(s) × {options.Stages} stage(s), {options.ShardsPerLayer} shards/layer × {options.ExpertReplicas} replica(s), " +
                          $"shared experts on the {SharedText(options)}, {options.DType}, wire {options.WireDType}, data plane {options.DataPlane}; {decodeSteps} decode steps");
        Terminal.Table("llama4 bench cluster (ratios are measured ÷ baseline, same run)",
            ["batch", "local step ms", "cluster step ms", "step ratio (target <= 1.25 at 32)", "dispatch payload B", $"{options.DataPlane} MB/s", "raw TCP MB/s",
                "bytes/s ratio (target >= 0.5)", "raw TCP x-proc MB/s", "ratio to x-proc", "idle round trip us", "idle raw TCP us", "idle ratio (target <= 2)",
                "messages/step", "rank ms/step", "shard wait ms/step", "shard compute ms/step"],
            cases.Select(c => (IReadOnlyList<string>)[
                c.Batch.ToString(CultureInfo.InvariantCulture), F(c.LocalStepMs), F(c.ClusterStepMs), F(c.ClusterStepMs / c.LocalStepMs),
                c.PayloadBytes.ToString(CultureInfo.InvariantCulture), F(c.TransportBytesPerSecond / 1e6, "F0"), F(c.TcpBytesPerSecond / 1e6, "F0"),
                F(c.TransportBytesPerSecond / c.TcpBytesPerSecond),
                c.RemoteTcpBytesPerSecond is { } x ? F(x / 1e6, "F0") : "-",
                c.RemoteTcpBytesPerSecond is { } y ? F(c.TransportBytesPerSecond / y) : "-",
                F(c.Idle.TransportMicroseconds, "F0"), F(c.Idle.RawTcpMicroseconds, "F0"), F(c.Idle.Ratio), F(c.Messages, "F1"),
                F(c.Breakdown.RankMs), F(c.Breakdown.DispatchWaitMs), F(c.Breakdown.ShardComputeMs)]));
        Terminal.Table("per pipeline stage, decode window (compute = own layers; hand-off = waiting for the next stage; bubble = idle share of the wall time)",
            ["batch", "rank", "stage", "layers", "compute ms/step", "hand-off ms/step", "dispatch ms/step", "busy", "bubble", "silo"],
            cases.SelectMany(c => c.Stages.Select(s => (IReadOnlyList<string>)[
                c.Batch.ToString(CultureInfo.InvariantCulture), s.Rank.ToString(CultureInfo.InvariantCulture), s.Stage.ToString(CultureInfo.InvariantCulture),
                s.Layers, F(s.ComputeMs), F(s.HandOffMs), F(s.DispatchMs), F(s.BusyFraction), F(s.Bubble), s.Silo])));
        Terminal.Table("per attention silo, decode window (busy = its stages' busy shares summed; ranks interleaving through the stages fill the bubble)",
            ["batch", "silo", "stages held", "busy", "bubble"],
            cases.SelectMany(c => c.Silos.Select(s => (IReadOnlyList<string>)[
                c.Batch.ToString(CultureInfo.InvariantCulture), s.Silo, c.Stages.Count(x => x.Silo == s.Silo).ToString(CultureInfo.InvariantCulture),
                F(s.BusyFraction), F(1 - s.BusyFraction)])));
    }

    public static void Json(string model, LocalClusterOptions options, int decodeSteps, IReadOnlyList<ClusterBenchmarkCase> cases)
    {
        double R(double v, int digits = 4) => Math.Round(v, digits);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            model,
            silos = options.Silos,
            ranks = options.AttentionRanks,
            stages = options.Stages,
            shared_experts = SharedText(options),
            shards_per_layer = options.ShardsPerLayer,
            expert_replicas = options.ExpertReplicas,
            dtype = options.DType,
            wire_dtype = options.WireDType,
            data_plane = options.DataPlane,
            decode_steps = decodeSteps,
            machine = $"{Environment.ProcessorCount} logical CPUs, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}",
            cases = cases.Select(c => new
            {
                batch = c.Batch,
                local_step_ms = R(c.LocalStepMs),
                cluster_step_ms = R(c.ClusterStepMs),
                step_ratio = R(c.ClusterStepMs / c.LocalStepMs),
                messages_per_step = R(c.Messages, 2),
                dispatch_payload_bytes = c.PayloadBytes,
                dispatch_bytes_per_step = c.DispatchBytesPerStep,
                transport_bytes_per_s = R(c.TransportBytesPerSecond, 0),
                raw_tcp_bytes_per_s = R(c.TcpBytesPerSecond, 0),
                idle_round_trip_us = R(c.Idle.TransportMicroseconds, 1),
                idle_raw_tcp_round_trip_us = R(c.Idle.RawTcpMicroseconds, 1),
                idle_round_trip_ratio = R(c.Idle.Ratio),
                rank_ms_per_step = R(c.Breakdown.RankMs),
                shard_wait_ms_per_step = R(c.Breakdown.DispatchWaitMs),
                shard_compute_ms_per_step = R(c.Breakdown.ShardComputeMs),
                stages = c.Stages.Select(s => new
                {
                    rank = s.Rank,
                    stage = s.Stage,
                    layers = s.Layers,
                    silo = s.Silo,
                    compute_ms_per_step = R(s.ComputeMs),
                    hand_off_ms_per_step = R(s.HandOffMs),
                    dispatch_ms_per_step = R(s.DispatchMs),
                    busy_fraction = R(s.BusyFraction),
                    bubble = R(s.Bubble),
                }),
                silo_busy = c.Silos.Select(s => new { silo = s.Silo, busy_fraction = R(s.BusyFraction), bubble = R(1 - s.BusyFraction) }),
            }),
        }));
    }

    private static string SharedText(LocalClusterOptions options) => options.SharedExperts == global::Llama4Cluster.Cluster.Placement.SharedExpertPlacement.Shards ? "shards" : "rank";
}

using System.Text.Json;
using Llama4Cluster.Tests.Shared;

namespace Llama4Cluster.Cli.Tests;

/// <summary><c>llama4 bench cluster --stages K --json</c>: every pipeline stage's costs over the decode window, with sane values
/// (no timed assertion: the figures are whatever this machine measures).</summary>
public sealed class ClusterBenchmarkTests(TinyModels models) : IClassFixture<TinyModels>
{
    [RedisFact]
    public void JsonReportsEveryStagesComputeHandOffDispatchAndBubble()
    {
        string behemoth = models.Create("behemoth-bench", "--preset", "tiny-behemoth", "--seed", "2");
        var r = CliRunner.Run("bench", "cluster", "--model", behemoth, "--silos", "3", "--stages", "3", "--shared-experts", "shards",
            "--dtype", "float32", "--threads", "1", "--quick", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout); // exactly one JSON value on stdout
        var root = doc.RootElement;
        Assert.Equal(3, root.GetProperty("stages").GetInt32());
        Assert.Equal("shards", root.GetProperty("shared_experts").GetString());
        var cases = root.GetProperty("cases").EnumerateArray().ToList();
        Assert.Equal([1, 32], cases.Select(c => c.GetProperty("batch").GetInt32()));
        foreach (var c in cases)
        {
            Assert.True(c.GetProperty("cluster_step_ms").GetDouble() > 0);
            // The idle round trips (each after a pause, threads asleep) against raw TCP after the same pause.
            double idle = c.GetProperty("idle_round_trip_us").GetDouble(), raw = c.GetProperty("idle_raw_tcp_round_trip_us").GetDouble();
            Assert.True(idle > 0 && raw > 0, $"idle {idle} us, raw {raw} us");
            Assert.Equal(idle / raw, c.GetProperty("idle_round_trip_ratio").GetDouble(), 2);
            var stages = c.GetProperty("stages").EnumerateArray().ToList();
            Assert.Equal([0, 1, 2], stages.Select(s => s.GetProperty("stage").GetInt32()));
            Assert.Equal(3, stages.Select(s => s.GetProperty("layers").GetString()).Distinct().Count());
            foreach (var s in stages)
            {
                foreach (var field in new[] { "compute_ms_per_step", "hand_off_ms_per_step", "dispatch_ms_per_step" })
                    Assert.True(s.GetProperty(field).GetDouble() >= 0, $"{field} {s.GetProperty(field)}");
                double busy = s.GetProperty("busy_fraction").GetDouble(), bubble = s.GetProperty("bubble").GetDouble();
                Assert.InRange(bubble, 0, 1);
                Assert.InRange(busy, 0, 1);
                Assert.Equal(1, busy + bubble, 3);
                Assert.True(s.GetProperty("dispatch_ms_per_step").GetDouble() > 0, "every stage holds MoE layers and waits for their shards");
            }
            Assert.True(stages[0].GetProperty("hand_off_ms_per_step").GetDouble() > 0, "stage 0 waits for the later stages");
            Assert.Equal(0, stages[2].GetProperty("hand_off_ms_per_step").GetDouble()); // the last stage hands nothing on
            Assert.All(c.GetProperty("silo_busy").EnumerateArray(), s => Assert.InRange(s.GetProperty("bubble").GetDouble(), 0, 1));
        }
    }
}

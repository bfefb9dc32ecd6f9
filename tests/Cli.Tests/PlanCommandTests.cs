using System.Text.Json.Nodes;

namespace Llama4Cluster.Cli.Tests;

/// <summary>
/// <c>llama4 plan</c> as a user runs it: plans with pipeline stages for Behemoth-scale and Maverick on 8 × 80 GB hosts, exit
/// code 3 with the binding constraint when the model does not fit, the dtype spellings of the other commands, and the
/// estimated decode step.
/// </summary>
public sealed class PlanCommandTests
{
    private static readonly string[] Hosts8x80 = ["--gpus-per-host", "8", "--gpu-memory", "80GB"];

    [Theory]
    [InlineData("fp8")]
    [InlineData("bfloat16")]
    public void Behemoth_On8Hosts_FitsWithStagesAndWritesThemToThePlan(string dtype)
    {
        string file = Path.Combine(Path.GetTempPath(), $"l4c-plan-{Guid.NewGuid():N}.json");
        try
        {
            var r = CliRunner.Run(["plan", "--preset", "behemoth", "--hosts", "8", .. Hosts8x80, "--dtype", dtype, "--out", file]);
            Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
            Assert.Contains("fits: ", r.Stdout);
            Assert.Contains("pipeline stages (one device each)", r.Stdout);
            Assert.Contains("estimated decode step", r.Stdout);
            var plan = JsonNode.Parse(File.ReadAllText(file))!;
            Assert.Equal("shards", plan["sharedExperts"]!.GetValue<string>());
            foreach (var rank in plan["attentionRanks"]!.AsArray())
            {
                var stages = rank!["stages"]!.AsArray();
                Assert.True(stages.Count >= 2, $"{stages.Count} stage(s)");
                Assert.Equal(88, stages.Sum(s => s!["layerCount"]!.GetValue<int>()));
                Assert.All(stages, s => Assert.True(s!["weightBytes"]!.GetValue<long>() + s["kvBytes"]!.GetValue<long>() <= 72_000_000_000L));
            }
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData("1", "fp8")]
    [InlineData("2", "bfloat16")]
    [InlineData("2", "bf16")]
    public void Maverick_Fits_OneHostFp8_TwoHostsBf16(string hosts, string dtype)
    {
        var r = CliRunner.Run(["plan", "--preset", "maverick", "--hosts", hosts, .. Hosts8x80, "--dtype", dtype]);
        Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
        Assert.Contains("1 attention rank(s) × 1 stage(s)", r.Stdout);
    }

    [Fact]
    public void Maverick_Bf16_OnOneHost_DoesNotFit_Exit3_NamesTheConstraintAndTheHostsNeeded()
    {
        var r = CliRunner.Run(["plan", "--preset", "maverick", "--hosts", "1", .. Hosts8x80, "--dtype", "bfloat16"]);
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("does not fit: the model in bfloat16", r.Stdout);
        Assert.Contains("needs 814.3 GB > 576.0 GB available", r.Stdout);
        Assert.Contains("binding constraint: total memory", r.Stdout);
        Assert.Contains("in bfloat16 it needs 2 host(s)", r.Stdout);
        Assert.Contains("in fp8 it needs 1 host(s)", r.Stdout);
    }

    [Fact]
    public void TooFewStagesAsked_Exit3_OneStageTooBigForADevice()
    {
        var r = CliRunner.Run(["plan", "--preset", "behemoth", "--hosts", "8", .. Hosts8x80, "--dtype", "fp8", "--stages", "2", "--shared-experts", "rank"]);
        Assert.Equal(3, r.ExitCode);
        Assert.Contains("binding constraint: one device per stage", r.Stdout);
        Assert.Contains("> 72.0 GB available", r.Stdout);
    }

    [Theory]
    [InlineData("--attention-devices", "2")]
    [InlineData("--dtype", "float16")]
    [InlineData("--shared-experts", "sometimes")]
    [InlineData("--gpu", "h900")]
    [InlineData("--interconnect", "carrier-pigeon")]
    public void BadPlanOptions_Exit2(string option, string value)
    {
        var r = CliRunner.Run(["plan", "--preset", "maverick", "--hosts", "1", .. Hosts8x80, option, value]);
        Assert.Equal(2, r.ExitCode);
        Assert.StartsWith("llama4: error: ", r.Stderr);
        Assert.Contains(option, r.Stderr);
    }

    [Fact]
    public void CostEstimate_FasterLinksNeverSlowTheStep()
    {
        string Step(params string[] extra)
        {
            var r = CliRunner.Run(["plan", "--preset", "behemoth", "--hosts", "8", .. Hosts8x80, "--dtype", "fp8", "--batch", "32", "--attention-ranks", "1", .. extra]);
            Assert.True(r.ExitCode == 0, r.Stderr);
            var row = r.Stdout.Split('\n').SkipWhile(l => !l.StartsWith("batch ", StringComparison.Ordinal)).Skip(1).First();
            return row.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1];
        }
        double slow = double.Parse(Step("--interconnect", "pcie+eth"), System.Globalization.CultureInfo.InvariantCulture);
        double fast = double.Parse(Step("--interconnect", "nvlink+ib"), System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(fast < slow, $"nvlink+ib {fast} ms vs pcie+eth {slow} ms");
    }

    /// <summary>A <c>bench cluster --json</c> file whose echoes follow t = 100 µs + bytes / (1 GB/s).</summary>
    private static string BenchFile(params long[] payloads)
    {
        string file = Path.Combine(Path.GetTempPath(), $"l4c-bench-{Guid.NewGuid():N}.json");
        var cases = new JsonArray(payloads.Select(b =>
        {
            double oneWay = 100e-6 + b / 1e9;
            return (JsonNode)new JsonObject { ["batch"] = 1, ["dispatch_payload_bytes"] = b, ["transport_bytes_per_s"] = 2.0 * b / (2 * oneWay) };
        }).ToArray());
        File.WriteAllText(file, new JsonObject { ["cases"] = cases, ["silos"] = 3 }.ToJsonString());
        return file;
    }

    [Fact]
    public void MeasuredLinkFiguresFromBenchClusterReplaceTheAssumedOnesBetweenHosts()
    {
        string file = BenchFile(8_192, 262_144);
        try
        {
            string[] args = ["plan", "--preset", "maverick", "--hosts", "2", .. Hosts8x80, "--dtype", "bfloat16"];
            var measured = CliRunner.Run([.. args, "--measured", file]);
            Assert.True(measured.ExitCode == 0, measured.Stderr + measured.Stdout);
            Assert.Contains("measured link 8 Gb/s, 100 µs", measured.Stdout); // 1 GB/s and 100 µs fitted back out of the echoes
            Assert.Contains("fit of 2 echoes", measured.Stdout);
            var assumed = CliRunner.Run(args);
            Assert.Contains("InfiniBand NDR 400 Gb/s between hosts", assumed.Stdout);
            Assert.NotEqual(Estimates(assumed.Stdout), Estimates(measured.Stdout)); // a slower link costs the two-host plan time

            var both = CliRunner.Run([.. args, "--measured", file, "--link-gbps", "100"]);
            Assert.Equal(2, both.ExitCode);
            Assert.Contains("either --measured FILE or --link-gbps", both.Stderr);
        }
        finally
        {
            File.Delete(file);
        }

        var missing = CliRunner.Run(["plan", "--preset", "maverick", "--hosts", "2", .. Hosts8x80, "--measured", file]);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("does not exist", missing.Stderr);
    }

    [Fact]
    public void OneEchoSizeGivesTheBandwidthAlone()
    {
        string file = BenchFile(262_144);
        try
        {
            var r = CliRunner.Run(["plan", "--preset", "maverick", "--hosts", "2", .. Hosts8x80, "--dtype", "bfloat16", "--measured", file]);
            Assert.True(r.ExitCode == 0, r.Stderr + r.Stdout);
            Assert.Contains("latency not separable", r.Stdout);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The estimate table's rows: everything after its title line (which names the links).</summary>
    private static string Estimates(string stdout)
    {
        int title = stdout.IndexOf("estimated decode step", StringComparison.Ordinal);
        return stdout[(stdout.IndexOf('\n', title) + 1)..];
    }
}

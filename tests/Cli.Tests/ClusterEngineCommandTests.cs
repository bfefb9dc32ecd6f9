using System.Diagnostics;
using System.Text.Json;
using Llama4Cluster.Tests.Shared;

namespace Llama4Cluster.Cli.Tests;

/// <summary>
/// <c>--engine cluster</c>: the CLI starts redis-server and three silo processes, runs the request through the
/// cluster, prints the same JSON as <c>--engine local</c> and leaves no process behind.
/// </summary>
public sealed class ClusterEngineCommandTests(TinyModels models) : IClassFixture<TinyModels>
{
    private static JsonElement SingleJsonObject(string stdout)
    {
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        return doc.RootElement.Clone();
    }

    [RedisFact]
    public void GenerateOnTheClusterMatchesTheLocalEngine()
    {
        string[] args = ["generate", "--model", models.Maverick, "--tokens", "1,17,42,9,300,77", "--max-tokens", "8", "--ignore-eos", "--dtype", "float32", "--json"];
        var local = CliRunner.Run(args);
        Assert.True(local.ExitCode == 0, local.Stderr);
        var cluster = CliRunner.Run([.. args, "--engine", "cluster"]);
        Assert.True(cluster.ExitCode == 0, cluster.Stderr);

        var want = SingleJsonObject(local.Stdout);
        var got = SingleJsonObject(cluster.Stdout);
        Assert.Equal(want.EnumerateObject().Select(p => p.Name), got.EnumerateObject().Select(p => p.Name));
        Assert.Equal(want.GetProperty("timings").EnumerateObject().Select(p => p.Name), got.GetProperty("timings").EnumerateObject().Select(p => p.Name));
        Assert.Equal(Tokens(want), Tokens(got));
        Assert.Equal(8, Tokens(got).Length);
        Assert.Equal(want.GetProperty("text").GetString(), got.GetProperty("text").GetString());
        Assert.Equal(want.GetProperty("finish_reason").GetString(), got.GetProperty("finish_reason").GetString());
        Assert.True(got.GetProperty("timings").GetProperty("warmup_s").GetDouble() > 0); // a throwaway sequence ran through the silos first
        Assert.Contains("cluster: 3 silos joined", cluster.Stderr);
        AssertNoClusterProcessesLeft(cluster.Stderr);
    }

    [RedisFact]
    public void LogitsOnAClusterOfSilosOnTheirOwnAddressesMatchTheLocalEngine()
    {
        string[] args = ["logits", "--model", models.Maverick, "--tokens", "1,17,42,9,300,77,5,400,12,3", "--dtype", "float32", "--json"];
        var local = CliRunner.Run(args);
        Assert.True(local.ExitCode == 0, local.Stderr);
        // Each silo on a loopback address of its own, standing for two hosts.
        var cluster = CliRunner.Run([.. args, "--engine", "cluster", "--silos", "2", "--silo-addresses", "distinct"]);
        Assert.True(cluster.ExitCode == 0, cluster.Stderr);

        var want = SingleJsonObject(local.Stdout).GetProperty("logits");
        var got = SingleJsonObject(cluster.Stdout).GetProperty("logits");
        Assert.Equal(want.EnumerateObject().Select(p => p.Name), got.EnumerateObject().Select(p => p.Name));
        double diff = 0;
        foreach (var row in want.EnumerateObject())
        {
            var a = row.Value.EnumerateArray().Select(e => e.GetSingle()).ToArray();
            var b = got.GetProperty(row.Name).EnumerateArray().Select(e => e.GetSingle()).ToArray();
            Assert.Equal(a.Length, b.Length);
            for (int i = 0; i < a.Length; i++) diff = Math.Max(diff, Math.Abs(a[i] - b[i]));
        }
        Assert.True(diff < 1e-5, $"max |logit diff| {diff:E3}");
        Assert.Contains("on 127.0.0.2 to 127.0.0.3)", cluster.Stderr);
        Assert.Contains("cluster: 2 silos joined", cluster.Stderr);
        AssertNoClusterProcessesLeft(cluster.Stderr);
    }

    /// <summary>
    /// <c>--plan FILE</c>: every silo process is started with the plan and its planned name and role, and the grains go
    /// where the plan says. The plan is edited so that each layer's shards hold interleaved (non-consecutive) experts
    /// — even ids on shard 0, odd on shard 1 — which an even split never produces; the tokens must still equal the
    /// local engine's.
    /// </summary>
    [RedisFact]
    public void GenerateOnAPlannedClusterWithInterleavedExpertsMatchesTheLocalEngine()
    {
        string plan = Path.Combine(models.Root, "interleaved-plan.json");
        var planned = CliRunner.Run(["plan", "--model", models.Maverick, "--hosts", "2", "--gpus-per-host", "1", "--gpu-memory", "1GB",
            "--shards-per-layer", "2", "--out", plan]);
        Assert.True(planned.ExitCode == 0, planned.Stderr);
        var json = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(plan))!;
        foreach (var shard in json["expertShards"]!.AsArray())
        {
            int index = shard!["shard"]!.GetValue<int>();
            var experts = shard["experts"]!.AsArray().Select(e => e!.GetValue<int>()).ToArray();
            int count = experts.Length * 2; // two shards per layer
            shard["experts"] = new System.Text.Json.Nodes.JsonArray([.. Enumerable.Range(0, count).Where(e => e % 2 == index)
                .Select(e => (System.Text.Json.Nodes.JsonNode)e)]);
            shard["silo"] = index == 0 ? "host-0" : "host-1";
        }
        File.WriteAllText(plan, json.ToJsonString());

        string[] args = ["generate", "--model", models.Maverick, "--tokens", "1,17,42,9,300,77", "--max-tokens", "8", "--ignore-eos", "--dtype", "float32", "--json"];
        var local = CliRunner.Run(args);
        Assert.True(local.ExitCode == 0, local.Stderr);
        // The plan's two hosts stand in as two loopback addresses.
        var cluster = CliRunner.Run([.. args, "--engine", "cluster", "--plan", plan, "--silo-addresses", "distinct"]);
        Assert.True(cluster.ExitCode == 0, cluster.Stderr);
        Assert.Equal(Tokens(SingleJsonObject(local.Stdout)), Tokens(SingleJsonObject(cluster.Stdout)));
        Assert.Contains("on 127.0.0.2 to 127.0.0.3)", cluster.Stderr);
        Assert.Contains("cluster: 2 silos joined", cluster.Stderr);
        AssertNoClusterProcessesLeft(cluster.Stderr);

        var mismatch = CliRunner.Run([.. args, "--engine", "cluster", "--plan", plan, "--silos", "3"]);
        Assert.Equal(2, mismatch.ExitCode);
        Assert.Contains("disagrees with the plan", mismatch.Stderr);
    }

    /// <summary>
    /// A staged plan end to end: <c>llama4 plan --stages 3</c> for tiny-behemoth over 3 one-device hosts, then
    /// <c>generate --engine cluster --plan FILE</c>: each silo process takes its stage count from the plan file (no
    /// <c>--stages</c> is passed to them), the ranks run in 3 pipeline stages, and the tokens equal the local engine's.
    /// </summary>
    [RedisFact]
    public void GenerateOnAStagedPlanMatchesTheLocalEngine()
    {
        string model = models.Create("behemoth-staged", "--preset", "tiny-behemoth", "--seed", "7");
        string plan = Path.Combine(models.Root, "staged-plan.json");
        var planned = CliRunner.Run(["plan", "--model", model, "--hosts", "3", "--gpus-per-host", "1", "--gpu-memory", "1GB", "--stages", "3", "--out", plan]);
        Assert.True(planned.ExitCode == 0, planned.Stderr);
        Assert.Contains("attention ranks × 3 pipeline stages", planned.Stdout);

        string[] args = ["generate", "--model", model, "--tokens", "1,17,42,9,30,77", "--max-tokens", "8", "--ignore-eos", "--dtype", "float32", "--json"];
        var local = CliRunner.Run(args);
        Assert.True(local.ExitCode == 0, local.Stderr);
        var cluster = CliRunner.Run([.. args, "--engine", "cluster", "--plan", plan]);
        Assert.True(cluster.ExitCode == 0, cluster.Stderr);
        Assert.Contains("attention ranks in 3 pipeline stages", cluster.Stderr);
        Assert.Equal(Tokens(SingleJsonObject(local.Stdout)), Tokens(SingleJsonObject(cluster.Stdout)));
        AssertNoClusterProcessesLeft(cluster.Stderr);
    }

    private static int[] Tokens(JsonElement o) => o.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();

    /// <summary>The redis port the run announced must have no redis-server left, and no silo of that cluster may remain.</summary>
    private static void AssertNoClusterProcessesLeft(string stderr)
    {
        var line = stderr.Split('\n').Single(l => l.StartsWith("cluster: starting redis-server on ", StringComparison.Ordinal));
        string endpoint = line["cluster: starting redis-server on ".Length..].Trim();
        var left = Process.GetProcesses().Where(p =>
        {
            try
            {
                string cmd = File.ReadAllText($"/proc/{p.Id}/cmdline").Replace('\0', ' ');
                return cmd.Contains(endpoint, StringComparison.Ordinal);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }).Select(p => p.Id).ToArray();
        Assert.True(left.Length == 0, $"processes of the cluster at {endpoint} are still running: {string.Join(", ", left)}");
    }
}

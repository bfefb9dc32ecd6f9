using System.Diagnostics;
using System.Text.Json;
using Llama4Cluster.Tests.Shared;
using Xunit.Abstractions;

namespace Llama4Cluster.Cli.Tests.Chaos;

/// <summary><c>llama4 chaos</c> as a process: bad arguments (one line, exit code 2), and one whole drill on tiny-scout.</summary>
public sealed class ChaosCommandTests(TinyModels models, ITestOutputHelper output) : IClassFixture<TinyModels>
{
    private static string Line(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{text}");
        return lines[0];
    }

    [Theory]
    [InlineData("missing required option --model", "--scenario", "kill-expert")]
    [InlineData("missing required option --scenario", "--model", "MODEL")]
    [InlineData("--scenario: expected one of kill-expert|kill-attention|kill-gateway|stall-expert|kill-redis|rolling-restart; got 'kill-everything'",
        "--model", "MODEL", "--scenario", "kill-everything")]
    [InlineData("--streams must be between 1 and 256; got 0", "--model", "MODEL", "--scenario", "kill-expert", "--streams", "0")]
    [InlineData("--seed expects an integer; got 'x'", "--model", "MODEL", "--scenario", "kill-expert", "--seed", "x")]
    [InlineData("--replicas 3 needs at least 3 expert silos (--expert-silos 2)", "--model", "MODEL", "--scenario", "kill-expert", "--replicas", "3")]
    [InlineData("--scenario kill-attention needs --attention-silos 2 or more", "--model", "MODEL", "--scenario", "kill-attention", "--attention-silos", "1")]
    [InlineData("--scenario stall-expert needs --expert-silos 2 or more", "--model", "MODEL", "--scenario", "stall-expert", "--expert-silos", "1")]
    [InlineData("--prompt-tokens 8000 + --max-tokens 64 exceed the model's context", "--model", "MODEL", "--scenario", "kill-redis", "--prompt-tokens", "8000")]
    [InlineData("unknown option --silos", "--model", "MODEL", "--scenario", "kill-redis", "--silos", "3")]
    [InlineData("--model: no such directory '/nonexistent/llama4'", "--model", "/nonexistent/llama4", "--scenario", "kill-redis")]
    [InlineData("option --streams needs a value", "--model", "MODEL", "--scenario", "kill-redis", "--streams")]
    public void BadArgumentsGetOneLineAndExitCode2(string message, params string[] args)
    {
        var r = CliRunner.Run(["chaos", .. args.Select(a => a == "MODEL" ? models.Scout : a)]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, Line(r.Stderr));
        Assert.StartsWith("llama4: error: ", r.Stderr);
        Assert.Equal("", r.Stdout);
    }

    [Fact]
    public void HelpListsTheCommand()
    {
        var r = CliRunner.Run("--help");
        Assert.Contains("llama4 chaos --model DIR --scenario kill-expert|kill-attention|kill-gateway|stall-expert|kill-redis|rolling-restart [--streams N] [--replicas R] [--seed S]", r.Stdout);
    }

    /// <summary>
    /// The whole drill, kill-gateway on the smallest cluster (one attention and one expert silo, two streams of 16 tokens):
    /// the gateway's own in-flight streams are lost by design, the restarted gateway serves the same tokens as the
    /// fault-free run, the JSON says so, and no process of the cluster is left.
    /// </summary>
    [RedisFact]
    public void KillGatewayLosesOnlyItsOwnStreamsAndTheRestartedGatewayServesTheSameTokens()
    {
        var watch = Stopwatch.StartNew();
        var r = CliRunner.Run("chaos", "--model", models.Scout, "--scenario", "kill-gateway", "--streams", "2", "--max-tokens", "16",
            "--attention-silos", "1", "--expert-silos", "1", "--seed", "3", "--json");
        output.WriteLine($"{watch.Elapsed.TotalSeconds:F1} s\n{r.Stdout}\n{r.Stderr}");
        Assert.True(r.ExitCode == 0, r.Stderr);

        using var doc = JsonDocument.Parse(r.Stdout);
        var root = doc.RootElement;
        Assert.True(root.GetProperty("passed").GetBoolean());
        Assert.Equal("kill-gateway", root.GetProperty("scenario").GetString());
        Assert.StartsWith("SIGKILL of gateway (pid ", root.GetProperty("fault").GetString());
        // The fault point lies between a fifth and a half of the 32 tokens: both streams were in flight and are lost by design.
        Assert.Equal(2, root.GetProperty("lost_by_design").GetInt32());
        Assert.Equal(0, root.GetProperty("failed").GetInt32());
        Assert.True(root.GetProperty("detect_ms").GetDouble() >= 0);
        Assert.True(root.GetProperty("heal_ms").GetDouble() > 0);
        var rounds = root.GetProperty("rounds").EnumerateArray().ToDictionary(x => x.GetProperty("round").GetString()!);
        Assert.Equal(2, rounds["fault-free"].GetProperty("completed").GetInt32());
        var after = rounds["after"];
        Assert.Equal(2, after.GetProperty("identical").GetInt32());
        Assert.All(after.GetProperty("stream_details").EnumerateArray(), s => Assert.Equal(16, s.GetProperty("tokens").GetInt32()));
        AssertNoClusterProcessesLeft(r.Stderr);
    }

    /// <summary>No process that names the drill's redis endpoint or port (silos, gateway, redis-server, watchdogs) may remain.</summary>
    private static void AssertNoClusterProcessesLeft(string stderr)
    {
        const string prefix = "chaos: starting redis-server on ";
        string endpoint = stderr.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal))[prefix.Length..].Trim();
        string port = endpoint[(endpoint.LastIndexOf(':') + 1)..];
        var left = Process.GetProcesses().Where(p =>
        {
            try
            {
                string cmd = File.ReadAllText($"/proc/{p.Id}/cmdline").Replace('\0', ' ');
                return cmd.Contains(endpoint, StringComparison.Ordinal) || (cmd.Contains("redis-server", StringComparison.Ordinal) && cmd.Contains($"--port {port} ", StringComparison.Ordinal));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return false;
            }
        }).Select(p => p.Id).ToArray();
        Assert.True(left.Length == 0, $"processes of the drill at {endpoint} are still running: {string.Join(", ", left)}");
    }
}

using System.Text.Json;

namespace Llama4Cluster.Cli.Tests;

/// <summary>The stable CLI forms: create-tiny, logits --json, generate --json, errors and exit codes.</summary>
public sealed class CliCommandTests(TinyModels models) : IClassFixture<TinyModels>
{
    private static JsonElement SingleJsonObject(string stdout)
    {
        using var doc = JsonDocument.Parse(stdout); // throws if anything but one JSON value is printed
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        return doc.RootElement.Clone();
    }

    private static float[] Row(JsonElement logits, int position) =>
        logits.GetProperty(position.ToString()).EnumerateArray().Select(e => e.GetSingle()).ToArray();

    [Fact]
    public void CreateTinyWritesTheHuggingFaceLayout()
    {
        foreach (var f in new[] { "config.json", "model.safetensors", "tokenizer.json", "tokenizer.model", "tokenizer_config.json" })
            Assert.True(File.Exists(Path.Combine(models.Scout, f)), f);
        Assert.True(File.Exists(Path.Combine(models.Maverick, "model.safetensors.index.json")));
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(models.Scout, "config.json")));
        Assert.Equal("Llama4ForConditionalGeneration", config.RootElement.GetProperty("architectures")[0].GetString());
        Assert.Equal(64, config.RootElement.GetProperty("text_config").GetProperty("hidden_size").GetInt32());
    }

    [Fact]
    public void LogitsPrintsOneObjectWithTheRequestedPositions()
    {
        var all = CliRunner.Run("logits", "--model", models.Scout, "--tokens", "1,17,42,9,300", "--json");
        Assert.True(all.ExitCode == 0, all.Stderr);
        var logits = SingleJsonObject(all.Stdout).GetProperty("logits");
        Assert.Equal(["0", "1", "2", "3", "4"], logits.EnumerateObject().Select(p => p.Name));
        Assert.All(Enumerable.Range(0, 5), p => Assert.Equal(512, Row(logits, p).Length));
        Assert.All(Row(logits, 4), v => Assert.True(float.IsFinite(v)));

        var some = CliRunner.Run("logits", "--model", models.Scout, "--tokens", "1,17,42,9,300", "--positions", "0,3", "--json");
        var subset = SingleJsonObject(some.Stdout).GetProperty("logits");
        Assert.Equal(["0", "3"], subset.EnumerateObject().Select(p => p.Name));
        Assert.Equal(Row(logits, 3), Row(subset, 3));
    }

    [Fact]
    public void LogitsWorksWithoutTokenizerFiles()
    {
        string dir = Path.Combine(models.Root, "no-tokenizer");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(models.Maverick).Where(f => !Path.GetFileName(f).StartsWith("tokenizer", StringComparison.Ordinal)))
            File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        var r = CliRunner.Run("logits", "--model", dir, "--tokens", "1,2,3", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var expected = CliRunner.Run("logits", "--model", models.Maverick, "--tokens", "1,2,3", "--json");
        Assert.Equal(expected.Stdout, r.Stdout);
    }

    [Fact]
    public void GreedyGenerateFollowsTheLogitsArgmax()
    {
        int[] prompt = [1, 17, 42];
        // float32: the exact mode logits computes in (generate's default, auto, would compute this bf16 checkpoint in bf16).
        var g = CliRunner.Run("generate", "--model", models.Maverick, "--tokens", string.Join(',', prompt), "--max-tokens", "5", "--ignore-eos",
            "--dtype", "float32", "--json");
        Assert.True(g.ExitCode == 0, g.Stderr);
        var result = SingleJsonObject(g.Stdout);
        Assert.Equal("float32", result.GetProperty("dtype").GetString());
        var tokens = result.GetProperty("tokens").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(5, tokens.Length);
        Assert.Equal("length", result.GetProperty("finish_reason").GetString());
        var timings = result.GetProperty("timings");
        foreach (var key in new[] { "load_s", "warmup_s", "prefill_tokens", "prefill_tokens_per_s", "decode_tokens", "decode_tokens_per_s" })
            Assert.True(timings.TryGetProperty(key, out _), key);
        // The local engine warms up before the prompt; its throwaway generation is not in the prompt's figures.
        Assert.True(timings.GetProperty("warmup_s").GetDouble() > 0);
        Assert.Equal(3, timings.GetProperty("prefill_tokens").GetInt32());

        var sequence = prompt.Concat(tokens[..^1]).ToArray();
        var l = CliRunner.Run("logits", "--model", models.Maverick, "--tokens", string.Join(',', sequence), "--json");
        var logits = SingleJsonObject(l.Stdout).GetProperty("logits");
        for (int i = 0; i < tokens.Length; i++)
        {
            var row = Row(logits, prompt.Length - 1 + i);
            Assert.Equal(Array.IndexOf(row, row.Max()), tokens[i]);
        }
    }

    [Fact]
    public void SeededSamplingIsReproducibleAndChatPromptsWork()
    {
        string[] args = ["generate", "--model", models.Scout, "--prompt", "Hello world", "--chat", "--max-tokens", "6",
            "--temperature", "0.9", "--top-p", "0.95", "--seed", "7", "--ignore-eos", "--json"];
        var a = CliRunner.Run(args);
        var b = CliRunner.Run(args);
        Assert.True(a.ExitCode == 0, a.Stderr);
        var result = SingleJsonObject(a.Stdout);
        Assert.Equal(result.GetProperty("tokens").ToString(), SingleJsonObject(b.Stdout).GetProperty("tokens").ToString());
        Assert.Equal(6, result.GetProperty("tokens").GetArrayLength());
        Assert.NotNull(result.GetProperty("text").GetString());
    }

    [Fact]
    public void Fp8AndPerExpertCheckpointsRun()
    {
        string fp8 = models.Create("fp8", "--preset", "tiny-maverick", "--dtype", "fp8");
        var r = CliRunner.Run("generate", "--model", fp8, "--tokens", "1,2,3", "--max-tokens", "3", "--ignore-eos", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Equal(3, SingleJsonObject(r.Stdout).GetProperty("tokens").GetArrayLength());
    }

    [Fact]
    public void BenchPrefixCacheReportsTheCachedPromptAndARatioFromOneRun()
    {
        var r = CliRunner.Run("bench", "prefix-cache", "--preset", "tiny-scout", "--system-tokens", "64", "--user-tokens", "8",
            "--rounds", "1", "--dtype", "float32", "--threads", "1", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var json = SingleJsonObject(r.Stdout);
        Assert.Equal(64, json.GetProperty("cached_tokens").GetInt32()); // the whole system prompt: blocks of 4 divide 64
        Assert.Equal(72, json.GetProperty("prompt_tokens").GetInt32());
        Assert.Single(json.GetProperty("cold_ttft_ms").EnumerateArray());
        Assert.True(json.GetProperty("speedup").GetDouble() > 0);
    }

    [Fact]
    public void BenchGuidedReportsTheMaskOverALlama4SizedVocabularyAsAShareOfADecodeStep()
    {
        var r = CliRunner.Run("bench", "guided", "--model", models.Scout, "--quick", "--json", "--threads", "1");
        Assert.True(r.ExitCode == 0, r.Stderr);
        var report = SingleJsonObject(r.Stdout);
        Assert.Equal(202_048, report.GetProperty("vocabulary").GetProperty("ids").GetInt32());
        Assert.True(report.GetProperty("decode_step").GetProperty("ms").GetDouble() > 0);
        var rows = report.GetProperty("rows").EnumerateArray().ToList();
        Assert.Equal(6, rows.Count);
        foreach (var row in rows)
        {
            Assert.True(row.GetProperty("tokens").GetInt32() > 0);
            Assert.True(row.GetProperty("mask_warm_mean_us").GetDouble() > 0);
            Assert.True(row.GetProperty("mask_share_of_decode_step").GetDouble() > 0);
        }
    }

    [Theory]
    [InlineData("logits", "--model", "MODEL", "--tokens", "1,x", "--json")]
    [InlineData("logits", "--model", "MODEL", "--tokens", "1,2", "--positions", "5", "--json")]
    [InlineData("logits", "--model", "MODEL", "--tokens", "1,99999", "--json")]
    [InlineData("logits", "--model", "/nonexistent/model", "--tokens", "1", "--json")]
    [InlineData("generate", "--model", "MODEL", "--tokens", "1", "--max-tokens", "0")]
    [InlineData("generate", "--model", "MODEL", "--tokens", "1", "--prompt", "hi", "--max-tokens", "2")]
    [InlineData("generate", "--model", "MODEL", "--tokens", "1", "--max-tokens", "2", "--temperature", "-1")]
    [InlineData("generate", "--model", "MODEL", "--tokens", "1", "--max-tokens", "2", "--bogus", "3")]
    [InlineData("generate", "--model", "MODEL", "--tokens", "1", "--max-tokens", "2", "--engine", "bogus")]
    [InlineData("logits", "--model", "MODEL", "--tokens", "1", "--silos", "2", "--json")]
    [InlineData("logits", "--model", "MODEL", "--tokens", "1", "--engine", "cluster", "--silos", "0", "--json")]
    [InlineData("bench", "cluster", "--silos", "3")]
    [InlineData("logits", "--model", "MODEL", "--tokens", "1", "--silo-addresses", "distinct", "--json")]
    [InlineData("logits", "--model", "MODEL", "--tokens", "1", "--engine", "cluster", "--silo-addresses", "hosts", "--json")]
    [InlineData("bench", "guided", "--model", "/nonexistent/model")]
    [InlineData("bench", "prefix-cache", "--preset", "huge")]
    [InlineData("bench", "prefix-cache", "--preset", "tiny-scout", "--model", "MODEL")]
    [InlineData("create-tiny", "--preset", "huge", "--out", "/tmp/never")]
    [InlineData("frob")]
    public void BadArgumentsGetOneLineAndExitCode2(params string[] args)
    {
        var r = CliRunner.Run(args.Select(a => a == "MODEL" ? models.Scout : a).ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("llama4: error: ", lines[0]);
    }

    [Theory]
    [InlineData("plan", "--help")]
    [InlineData("generate", "-h")]
    [InlineData("chaos", "--scenario", "kill-expert", "--help")]
    [InlineData("bench", "--help")]
    public void ACommandsHelpGoesToStdoutWithExitCode0(params string[] args)
    {
        var r = CliRunner.Run(args);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", r.Stderr);
        Assert.StartsWith($"usage: llama4 {args[0]} ", r.Stdout);
    }

    [Fact]
    public void VersionAndTopLevelHelpGoToStdout()
    {
        var version = CliRunner.Run("--version");
        Assert.Equal(0, version.ExitCode);
        Assert.Matches(@"^llama4 \d+\.\d+\.\d+", version.Stdout);
        var help = CliRunner.Run("--help");
        Assert.Equal((0, ""), (help.ExitCode, help.Stderr));
        Assert.Contains("llama4 plan ", help.Stdout);
        var none = CliRunner.Run();
        Assert.Equal((2, ""), (none.ExitCode, none.Stdout));
        Assert.StartsWith("usage: llama4", none.Stderr);
    }

    [Theory]
    [InlineData("generate", "--model", "MODEL", "--tokens", "1", "--max-tokens", "2", "--advertise", "x")]
    [InlineData("generate", "--model", "MODEL", "--tokens", "1", "--max-tokens", "2", "--advertise")]
    [InlineData("logits", "--model", "MODEL", "--tokens", "1", "--json", "--advertise")]
    public void AnUnknownOptionIsNamedAsUnknown(params string[] args)
    {
        var r = CliRunner.Run(args.Select(a => a == "MODEL" ? models.Scout : a).ToArray());
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("llama4: error: unknown option --advertise", r.Stderr.Trim());
    }

    [Fact]
    public void CorruptCheckpointNamesTheFileAndExits1()
    {
        string dir = Path.Combine(models.Root, "truncated");
        Directory.CreateDirectory(dir);
        foreach (var f in Directory.GetFiles(models.Scout)) File.Copy(f, Path.Combine(dir, Path.GetFileName(f)));
        string st = Path.Combine(dir, "model.safetensors");
        var bytes = File.ReadAllBytes(st);
        File.WriteAllBytes(st, bytes[..(bytes.Length / 2)]);
        var r = CliRunner.Run("logits", "--model", dir, "--tokens", "1", "--json");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal("", r.Stdout);
        Assert.Contains("model.safetensors", r.Stderr);
        Assert.Contains("tensor", r.Stderr);
    }
}

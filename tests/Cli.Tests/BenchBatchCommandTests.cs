using System.Text.Json;

namespace Llama4Cluster.Cli.Tests;

/// <summary><c>llama4 bench batch</c>: the llama-batched-bench measurement on the engine's step loop, and its argument checks.</summary>
public sealed class BenchBatchCommandTests(TinyModels models) : IClassFixture<TinyModels>
{
    [Fact]
    public void JsonHasOneResultPerBatchWithPositiveRatesAndTheTokenCountsOfTheSettings()
    {
        var r = CliRunner.Run("bench", "batch", "--model", models.Scout, "--batch", "1,3", "--prompt-tokens", "12", "--gen-tokens", "5",
            "--threads", "1", "--seed", "4", "--quick", "--json");
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout); // exactly one JSON value on stdout
        var root = doc.RootElement;
        Assert.Equal("bfloat16", root.GetProperty("dtype").GetString()); // auto: tiny-scout is written in bf16
        var results = root.GetProperty("results").EnumerateArray().ToList();
        Assert.Equal([1, 3], results.Select(x => x.GetProperty("batch").GetInt32()));
        foreach (var x in results)
        {
            int b = x.GetProperty("batch").GetInt32();
            Assert.Equal(b * 12, x.GetProperty("prefill_tokens").GetInt32());
            Assert.Equal(b * 5, x.GetProperty("decode_tokens").GetInt32());
            Assert.True(x.GetProperty("prefill_tokens_per_s").GetDouble() > 0);
            Assert.True(x.GetProperty("decode_tokens_per_s").GetDouble() > 0);
            Assert.True(x.GetProperty("prefill_s").GetDouble() > 0);
            Assert.True(x.GetProperty("decode_s").GetDouble() > 0);
        }

        Assert.Equal(1.0, results[0].GetProperty("decode_ratio_to_batch1").GetDouble());
        Assert.Contains("bench batch: batch 3:", r.Stderr); // progress on stderr
    }

    [Fact]
    public void WithoutJsonItPrintsATableWithTheRatioToBatch1()
    {
        var r = CliRunner.Run("bench", "batch", "--model", models.Scout, "--batch", "1,2", "--prompt-tokens", "8", "--gen-tokens", "3",
            "--threads", "1", "--dtype", "fp32", "--quick");
        Assert.True(r.ExitCode == 0, r.Stderr);
        Assert.Contains("(float32)", r.Stdout);
        Assert.Contains("decode ratio", r.Stdout);
        Assert.Matches(@"(?m)^1\s+\S+\s+\S+\s+\S+\s+\S+\s+1\.00\s*$", r.Stdout);
    }

    [Theory]
    [InlineData("--batch", "0,2")]
    [InlineData("--batch", "1,x")]
    [InlineData("--prompt-tokens", "0")]
    [InlineData("--gen-tokens", "-3")]
    [InlineData("--prompt-tokens", "200", "--gen-tokens", "56")] // 200 + 56 + 1 > tiny-scout's 256 positions
    [InlineData("--dtype", "fp16")]
    public void BadSettingsGetOneLineAndExitCode2(params string[] args)
    {
        var r = CliRunner.Run(["bench", "batch", "--model", models.Scout, "--quick", "--json", .. args]);
        Assert.Equal(2, r.ExitCode);
        Assert.Equal("", r.Stdout);
        var line = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("llama4: error: ", line);
    }
}

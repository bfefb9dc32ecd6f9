using System.Text.Json;

namespace Llama4Cluster.Cli.Tests;

/// <summary><c>--dtype auto</c>: generate's default computes in the checkpoint's dtype and says which in its JSON.</summary>
public sealed class DTypeAutoTests(TinyModels models) : IClassFixture<TinyModels>
{
    private static string DTypeOf(CliRunner.Result r)
    {
        Assert.True(r.ExitCode == 0, r.Stderr);
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement.GetProperty("dtype").GetString()!;
    }

    private static string[] Generate(string model, params string[] more) =>
        ["generate", "--model", model, "--tokens", "1,2,3", "--max-tokens", "2", "--ignore-eos", "--json", .. more];

    [Fact]
    public void GenerateDefaultsToTheCheckpointsDType()
    {
        string f32 = models.Create("f32", "--preset", "tiny-scout", "--dtype", "float32");
        string fp8 = models.Create("fp8-auto", "--preset", "tiny-maverick", "--dtype", "fp8");
        Assert.Equal("bfloat16", DTypeOf(CliRunner.Run(Generate(models.Scout))));
        Assert.Equal("float32", DTypeOf(CliRunner.Run(Generate(f32))));
        Assert.Equal("bfloat16", DTypeOf(CliRunner.Run(Generate(fp8))));
        Assert.Equal("float32", DTypeOf(CliRunner.Run(Generate(models.Scout, "--dtype", "fp32"))));
        Assert.Equal("bfloat16", DTypeOf(CliRunner.Run(Generate(f32, "--dtype", "bf16"))));
        Assert.Equal("bfloat16", DTypeOf(CliRunner.Run(Generate(f32, "--dtype", "bfloat16"))));
    }

    [Fact]
    public void WithoutTorchDTypeInTheConfigTheWeightsDecide()
    {
        string f32 = models.Create("f32-no-torch-dtype", "--preset", "tiny-scout", "--dtype", "f32");
        string config = Path.Combine(f32, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"torch_dtype\"", "\"unused_dtype\"", StringComparison.Ordinal));
        Assert.Equal("float32", DTypeOf(CliRunner.Run(Generate(f32))));
    }

    [Fact]
    public void LogitsStaysFloat32ButAcceptsAuto()
    {
        var exact = CliRunner.Run("logits", "--model", models.Scout, "--tokens", "1,2,3", "--json");
        var f32 = CliRunner.Run("logits", "--model", models.Scout, "--tokens", "1,2,3", "--dtype", "float32", "--json");
        var auto = CliRunner.Run("logits", "--model", models.Scout, "--tokens", "1,2,3", "--dtype", "auto", "--json");
        var bf16 = CliRunner.Run("logits", "--model", models.Scout, "--tokens", "1,2,3", "--dtype", "bf16", "--json");
        Assert.True(auto.ExitCode == 0, auto.Stderr);
        Assert.Equal(f32.Stdout, exact.Stdout);
        Assert.Equal(bf16.Stdout, auto.Stdout);
        Assert.NotEqual(exact.Stdout, auto.Stdout);
    }
}

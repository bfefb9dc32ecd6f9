using System.Text.Json;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Tests.Shared;
using SkiaSharp;

namespace Llama4Cluster.Cli.Tests;

/// <summary>
/// <c>--image FILE</c> on <c>logits</c> and <c>generate</c> (checked from outside): with <c>--tokens</c> the ids hold the
/// image token layout and the images fill the <c>&lt;|patch|&gt;</c> positions; with <c>--prompt</c>, <c>&lt;|image|&gt;</c>
/// marks each image; mismatches and bad files exit 2 naming the counts or the file; <c>create-tiny</c> writes the tiny vision
/// tower (or not, with <c>--no-vision</c>); the cluster's logits equal the local engine's.
/// </summary>
public sealed class VisionCliTests(TinyModels models) : IClassFixture<TinyModels>
{
    private string Png(string name, int width, int height, int seed)
    {
        string file = Path.Combine(models.Root, name);
        if (File.Exists(file)) return file;
        using var bitmap = new SKBitmap(width, height);
        var rng = new Random(seed);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)rng.Next(256), (byte)rng.Next(256), (byte)rng.Next(256)));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        File.WriteAllBytes(file, data.ToArray());
        return file;
    }

    /// <summary>BOS, text, the image's layout, text — the ids a caller of <c>--tokens</c> builds (the tiny tokenizer's image ids).</summary>
    private int[] TokensWith(string png, out int patches)
    {
        var tokenizer = Llama4Tokenizer.Load(models.Scout);
        var vision = VisionInputs.FromModelDirectory(models.Scout)!;
        var image = ImagePreprocessor.Preprocess(File.ReadAllBytes(png), vision.TileSize, 16, 1_000_000);
        var layout = ImageTokenLayout.Tokens(image, vision.TokensPerTile, ImageTokenSet.FromTokenizer(tokenizer));
        patches = ImageTokenLayout.CountPatches(layout, vision.PatchTokenId);
        return [tokenizer.BeginOfText, .. tokenizer.Encode("Look:"), .. layout, .. tokenizer.Encode(" what is it?")];
    }

    private static float[][] Logits(string stdout)
    {
        using var doc = JsonDocument.Parse(stdout);
        return [.. doc.RootElement.GetProperty("logits").EnumerateObject().OrderBy(p => int.Parse(p.Name)).Select(p => p.Value.EnumerateArray().Select(e => e.GetSingle()).ToArray())];
    }

    /// <summary>The load generators (bench serve, chaos) keep the patch token out of random prompts for a vision model the
    /// gateway's /info names; a text-only or unreadable directory has none.</summary>
    [Fact]
    public void GatewayInfoNamesTheVisionModelsPatchToken()
    {
        var patch = new Llama4Cluster.Cli.Serving.GatewayInfo { ModelDirectory = models.Scout }.PatchTokenId();
        Assert.Equal(Llama4ConfigReader.LoadImageTokens(models.Scout)!.Patch, patch);
        Assert.NotNull(patch);
        Assert.Null(new Llama4Cluster.Cli.Serving.GatewayInfo { ModelDirectory = models.Create("no-vision-info", "--preset", "tiny-scout", "--seed", "3", "--no-vision") }.PatchTokenId());
        Assert.Null(new Llama4Cluster.Cli.Serving.GatewayInfo { ModelDirectory = Path.Combine(models.Root, "not-here") }.PatchTokenId());
        Assert.Null(new Llama4Cluster.Cli.Serving.GatewayInfo().PatchTokenId());
    }

    [Fact]
    public void CreateTinyWritesTheTinyVisionTowerUnlessAskedNotTo()
    {
        var vision = Llama4ConfigReader.LoadVision(models.Scout);
        Assert.Equal(Llama4VisionConfig.Tiny, vision);
        Assert.Equal(Llama4ConfigReader.LoadImageTokens(models.Scout)!.Patch, Llama4Tokenizer.Load(models.Scout).TryGetSpecialTokenId("<|patch|>"));
        string plain = models.Create("no-vision", "--preset", "tiny-scout", "--seed", "3", "--no-vision");
        Assert.Null(Llama4ConfigReader.LoadVision(plain));
        // The text weights are the same with or without the tower: equal logits for a text prompt.
        string[] args = ["logits", "--tokens", "1,17,42,9", "--json"];
        var with = CliRunner.Run([args[0], "--model", models.Scout, .. args[1..]]);
        var without = CliRunner.Run([args[0], "--model", plain, .. args[1..]]);
        Assert.True(with.ExitCode == 0 && without.ExitCode == 0, with.Stderr + without.Stderr);
        Assert.Equal(Logits(with.Stdout).SelectMany(r => r), Logits(without.Stdout).SelectMany(r => r));
    }

    [Fact]
    public void LogitsTakeImagesThatFillThePatchPositions()
    {
        string a = Png("a.png", 70, 40, seed: 1), b = Png("b.png", 70, 40, seed: 2);
        var tokens = string.Join(',', TokensWith(a, out _));
        var first = CliRunner.Run("logits", "--model", models.Scout, "--tokens", tokens, "--image", a, "--json");
        Assert.True(first.ExitCode == 0, first.Stderr);
        var again = CliRunner.Run("logits", "--model", models.Scout, "--tokens", tokens, "--image", a, "--json");
        var other = CliRunner.Run("logits", "--model", models.Scout, "--tokens", tokens, "--image", b, "--json");
        Assert.True(other.ExitCode == 0, other.Stderr);
        var (x, y, z) = (Logits(first.Stdout), Logits(again.Stdout), Logits(other.Stdout));
        Assert.Equal(TokensWith(a, out _).Length, x.Length);
        Assert.Equal(x.SelectMany(r => r), y.SelectMany(r => r));
        // Before the image the same computation (up to the expert GEMMs' row grouping); after it, the pixels show.
        Assert.True(x[0].Zip(z[0]).Max(p => Math.Abs(p.First - p.Second)) < 1e-5);
        Assert.True(x[^1].Zip(z[^1]).Max(p => Math.Abs(p.First - p.Second)) > 1e-3);
    }

    [Fact]
    public void AMismatchOfPatchTokensAndImagesExits2NamingBothCounts()
    {
        string a = Png("a.png", 70, 40, seed: 1);
        var tokens = TokensWith(a, out int patches);
        var twice = CliRunner.Run("logits", "--model", models.Scout, "--tokens", string.Join(',', tokens), "--image", a, "--image", a, "--json");
        Assert.Equal(2, twice.ExitCode);
        Assert.Contains($"{patches} image patch tokens", twice.Stderr);
        Assert.Contains($"= {2 * patches} patch features", twice.Stderr);
        var none = CliRunner.Run("logits", "--model", models.Scout, "--tokens", string.Join(',', tokens), "--json");
        Assert.Equal(2, none.ExitCode);
        Assert.Contains($"{patches} image patch tokens", none.Stderr);
        Assert.Contains("0 image(s)", none.Stderr);
    }

    [Fact]
    public void GenerateTakesImagesWhereThePromptMarksThem()
    {
        string a = Png("a.png", 70, 40, seed: 1), b = Png("b.png", 70, 40, seed: 2);
        var run = CliRunner.Run("generate", "--model", models.Scout, "--prompt", "Compare <|image|> with <|image|>.", "--chat", "--image", a, "--image", b,
            "--max-tokens", "4", "--ignore-eos", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var doc = JsonDocument.Parse(run.Stdout);
        Assert.Equal(4, doc.RootElement.GetProperty("tokens").GetArrayLength());

        var count = CliRunner.Run("generate", "--model", models.Scout, "--prompt", "One <|image|> only", "--image", a, "--image", b, "--max-tokens", "2", "--json");
        Assert.Equal(2, count.ExitCode);
        Assert.Contains("1 <|image|> marker(s) but 2 --image file(s)", count.Stderr);
    }

    [Fact]
    public void BadImageFilesAndModelsWithoutAVisionTowerExit2()
    {
        var missing = CliRunner.Run("logits", "--model", models.Scout, "--tokens", "1,2", "--image", Path.Combine(models.Root, "nope.png"), "--json");
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("does not exist", missing.Stderr);
        string junk = Path.Combine(models.Root, "junk.png");
        File.WriteAllText(junk, "not an image");
        var bad = CliRunner.Run("logits", "--model", models.Scout, "--tokens", "1,2", "--image", junk, "--json");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("junk.png", bad.Stderr);
        Assert.Contains("not an image PNG/JPEG/WebP/GIF can decode", bad.Stderr);
        var textOnly = CliRunner.Run("logits", "--model", models.Maverick, "--tokens", "1,2", "--image", Png("a.png", 70, 40, seed: 1), "--json");
        Assert.Equal(2, textOnly.ExitCode);
        Assert.Contains("no vision tower", textOnly.Stderr);
    }

    [RedisFact]
    public void LogitsWithAnImageOnTheClusterMatchTheLocalEngine()
    {
        string a = Png("c.png", 120, 50, seed: 3); // several tiles and the global one
        string[] args = ["logits", "--model", models.Scout, "--tokens", string.Join(',', TokensWith(a, out _)), "--image", a, "--json"];
        var local = CliRunner.Run(args);
        Assert.True(local.ExitCode == 0, local.Stderr);
        var cluster = CliRunner.Run([.. args, "--engine", "cluster", "--silos", "2"]);
        Assert.True(cluster.ExitCode == 0, cluster.Stderr);
        var (x, y) = (Logits(local.Stdout), Logits(cluster.Stdout));
        double max = x.Zip(y).Max(p => p.First.Zip(p.Second).Max(q => Math.Abs(q.First - q.Second)));
        Assert.True(max < 1e-5, $"max |logit diff| {max:E3}");
    }

    [Fact]
    public void BenchVisionPrintsOneJsonObjectWithEveryMeasurement()
    {
        var run = CliRunner.Run("bench", "vision", "--tower", "tiny", "--tiles", "1,3", "--dtype", "float32", "--repetitions", "1", "--json");
        Assert.True(run.ExitCode == 0, run.Stderr);
        using var doc = JsonDocument.Parse(run.Stdout);
        var root = doc.RootElement;
        Assert.Equal(2, root.GetProperty("preprocess").GetArrayLength());
        Assert.Equal(17, root.GetProperty("preprocess")[1].GetProperty("tiles").GetInt32());
        var encoder = root.GetProperty("encoder").EnumerateArray().ToArray();
        Assert.Equal([1, 3], encoder.Select(e => e.GetProperty("tiles").GetInt32()));
        Assert.All(encoder, e => Assert.True(e.GetProperty("tiles_per_s").GetDouble() > 0));
        Assert.Equal(JsonValueKind.Null, root.GetProperty("ttft_added_ms_per_tile").ValueKind);
        var bad = CliRunner.Run("bench", "vision", "--tower", "huge");
        Assert.Equal(2, bad.ExitCode);
    }
}

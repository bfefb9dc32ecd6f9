using System.Text.Json.Nodes;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Tests.Reference;
using Llama4Cluster.Kernels.Vision;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Vision;

/// <summary>
/// The vision path against the float64 oracle (<see cref="ReferenceVision"/>, no code shared with src) on the tiny vision
/// tower (56-pixel tiles, 16 patches, 4 tokens per tile): one tile, a 2×2 image with its global tile, two images in one
/// call, both tensor name layouts and a sharded checkpoint agree to 1e-6; the pixel shuffle puts each patch where spec §5.2
/// says; a prompt with images gives the oracle's logits through the whole text model; a missing tensor is named.
/// </summary>
public sealed class VisionOracleTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "l4c-vision-oracle-" + Guid.NewGuid().ToString("N"));
    private static readonly Llama4VisionConfig Tiny = Llama4VisionConfig.Tiny;
    private static readonly ImageTokenIds Ids = new(507, 508, 509);

    public void Dispose()
    {
        if (Directory.Exists(_root)) Directory.Delete(_root, recursive: true);
    }

    private string Write(string name, TinyCheckpointOptions options, Llama4TextConfig? text = null)
    {
        string dir = Path.Combine(_root, name);
        TinyCheckpointWriter.Write(dir, text ?? Llama4Presets.TinyScout, options with { Vision = Tiny }, Ids);
        return dir;
    }

    private static ImageTiles Image(int rows, int columns, int seed)
    {
        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        var rng = new Random(seed);
        return new ImageTiles(Tiny.ImageSize, rows, columns, [.. Enumerable.Range(0, tiles * 3 * 56 * 56).Select(_ => (float)(rng.NextDouble() * 2 - 1))]);
    }

    private static List<double[]> Tiles(IEnumerable<ImageTiles> images)
    {
        int plane = 3 * Tiny.ImageSize * Tiny.ImageSize;
        return [.. images.SelectMany(i => Enumerable.Range(0, i.TileCount).Select(t => i.Pixels.AsSpan(t * plane, plane).ToArray().Select(v => (double)v).ToArray()))];
    }

    /// <summary>max |a − b| / (1 + |b|) over every value: 1e-6 is fp32 arithmetic on O(1) numbers.</summary>
    private static double Error(float[] actual, double[][] expected)
    {
        var flat = expected.SelectMany(r => r).ToArray();
        Assert.Equal(flat.Length, actual.Length);
        return flat.Select((e, i) => Math.Abs(actual[i] - e) / (1 + Math.Abs(e))).Max();
    }

    private static float[] Encode(string dir, IReadOnlyList<ImageTiles> images, torch.ScalarType dtype = torch.ScalarType.Float32)
    {
        using var reader = CheckpointReader.Open(dir);
        using var model = Llama4VisionModel.Load(new CheckpointWeightSource(reader), Tiny, new ModelOptions { ComputeDType = dtype });
        using var features = model.Encode(images);
        Assert.Equal([images.Sum(i => i.TileCount) * Tiny.TokensPerTile, reader.Config.HiddenSize], features.shape);
        using var f32 = features.to(torch.ScalarType.Float32);
        return f32.data<float>().ToArray();
    }

    private static double[][] Oracle(string dir, IEnumerable<ImageTiles> images, string prefix = "")
    {
        using var reader = CheckpointReader.Open(dir);
        return new ReferenceVision(new ReferenceWeights(reader), Tiny, prefix).Features(Tiles(images));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 2)]
    [InlineData(1, 3)]
    public void OneImageAgreesWithTheOracle(int rows, int columns)
    {
        string dir = Write("one", new TinyCheckpointOptions { Seed = 3 });
        ImageTiles[] images = [Image(rows, columns, seed: rows * 10 + columns)];
        double error = Error(Encode(dir, images), Oracle(dir, images));
        Assert.True(error < 1e-6, $"max relative error {error:E2}");
    }

    [Fact]
    public void TwoImagesInOneCallAgreeWithTheOracleAndWithEncodingEachAlone()
    {
        string dir = Write("two", new TinyCheckpointOptions { Seed = 4 });
        ImageTiles a = Image(1, 1, seed: 1), b = Image(2, 1, seed: 2);
        var both = Encode(dir, [a, b]);
        Assert.True(Error(both, Oracle(dir, [a, b])) < 1e-6);
        var alone = Encode(dir, [a]).Concat(Encode(dir, [b])).ToArray();
        Assert.Equal(alone.Length, both.Length);
        for (int i = 0; i < both.Length; i++) Assert.Equal(alone[i], both[i], 1e-5f);
    }

    [Fact]
    public void BothNameLayoutsAndAShardedCheckpointLoad()
    {
        ImageTiles[] images = [Image(2, 2, seed: 9)];
        string under = Write("under-model", new TinyCheckpointOptions { Seed = 5, VisionNamesUnderModel = true });
        using (var reader = CheckpointReader.Open(under))
        {
            Assert.Contains("model.vision_model.class_embedding", reader.TensorNames);
            Assert.DoesNotContain("vision_model.class_embedding", reader.TensorNames);
        }

        Assert.True(Error(Encode(under, images), Oracle(under, images, prefix: "model.")) < 1e-6);
        string sharded = Write("sharded", new TinyCheckpointOptions { Seed = 5, Shards = 3, DType = SafetensorsDType.F32 });
        Assert.True(Error(Encode(sharded, images), Oracle(sharded, images)) < 1e-6);
        // The same seed writes the same numbers whatever the layout (bf16 rounding aside): the two towers agree.
        var a = Encode(under, images);
        var b = Encode(sharded, images);
        Assert.True(a.Zip(b).Max(p => Math.Abs(p.First - p.Second)) < 0.05);
    }

    [Fact]
    public void ThePixelShufflePutsEachPatchWhereTheSpecSays()
    {
        // Patch (row, col) of a 4×4 grid carries value 100·row + 10·col + c in channel c (H = 3).
        const int side = 4, hidden = 3;
        var values = new float[side * side * hidden];
        for (int row = 0; row < side; row++)
            for (int col = 0; col < side; col++)
                for (int c = 0; c < hidden; c++) values[(row * side + col) * hidden + c] = 100 * row + 10 * col + c;
        using var x = torch.tensor(values, [1, side * side, hidden]);
        using var shuffled = Llama4VisionModel.PixelShuffle(x, side, 2, hidden);
        Assert.Equal([1, 4, 4 * hidden], shuffled.shape);
        var y = shuffled.data<float>().ToArray();
        for (int row = 0; row < side; row++)
            for (int col = 0; col < side; col++)
                for (int c = 0; c < hidden; c++)
                {
                    int token = row / 2 * (side / 2) + col / 2, channel = (row % 2 * 2 + col % 2) * hidden + c;
                    Assert.Equal(100 * row + 10 * col + c, y[token * 4 * hidden + channel]);
                }
    }

    [Fact]
    public void APromptWithImagesGivesTheOraclesLogits()
    {
        string dir = Write("prompt", new TinyCheckpointOptions { Seed = 6, DType = SafetensorsDType.F32 });
        var ids = new ImageTokenSet(507, 508, 500, 509, 501, 502);
        ImageTiles a = Image(1, 1, seed: 21), b = Image(1, 2, seed: 22);
        int[] tokens = [1, 40, 41, .. ImageTokenLayout.Tokens(a, 4, ids), 42, .. ImageTokenLayout.Tokens(b, 4, ids), 43];
        using var engine = LocalEngine.Load(dir, new LocalEngineOptions { PrefixCache = PrefixCacheOptions.Disabled });
        var logits = engine.Logits(tokens, [a, b]);

        using var reader = CheckpointReader.Open(dir);
        var weights = new ReferenceWeights(reader);
        var features = new ReferenceVision(weights, Tiny).Features(Tiles([a, b]));
        var expected = new ReferenceModel(weights).Logits(tokens, features, 509);
        double max = 0;
        for (int t = 0; t < tokens.Length; t++)
            for (int v = 0; v < expected[t].Length; v++) max = Math.Max(max, Math.Abs(logits[t][v] - expected[t][v]));
        Assert.True(max < 1e-4, $"max |logit − oracle| {max:E2}");
    }

    [Fact]
    public void Bf16FeaturesStayCloseToFp32()
    {
        string dir = Write("bf16", new TinyCheckpointOptions { Seed = 7 });
        ImageTiles[] images = [Image(2, 2, seed: 31)];
        var f32 = Encode(dir, images);
        var bf16 = Encode(dir, images, torch.ScalarType.BFloat16);
        double scale = f32.Max(Math.Abs);
        double max = f32.Zip(bf16).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(max < 0.05 * scale, $"bf16 differs by {max:E2} (values up to {scale:E2})");
    }

    [Fact]
    public void AMissingVisionTensorIsNamed()
    {
        string dir = Write("missing", new TinyCheckpointOptions { Seed = 8 });
        // A config that asks for a third encoder layer the checkpoint does not hold.
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!;
        config["vision_config"]!["num_hidden_layers"] = 3;
        File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
        using var reader = CheckpointReader.Open(dir);
        var tower = Llama4ConfigReader.LoadVision(dir)!;
        var e = Assert.ThrowsAny<Exception>(() => Llama4VisionModel.Load(new CheckpointWeightSource(reader), tower, new ModelOptions()));
        Assert.Contains("vision_model.model.layers.2.", e.Message);
    }
}

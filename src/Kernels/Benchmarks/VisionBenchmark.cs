using System.Diagnostics;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Vision;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Vision;
using SkiaSharp;
using TorchSharp;

namespace Llama4Cluster.Kernels.Benchmarks;

/// <summary>Settings of <see cref="VisionBenchmark"/>.</summary>
public sealed record VisionBenchmarkOptions
{
    /// <summary>The vision tower measured (random weights built in memory): Scout's and Maverick's by default.</summary>
    public Llama4VisionConfig Vision { get; init; } = Llama4VisionConfig.Published;

    /// <summary>The text hidden size the projector maps into (5120 for Scout and Maverick).</summary>
    public int TextHiddenSize { get; init; } = 5120;

    /// <summary>Tiles per encoder call measured.</summary>
    public IReadOnlyList<int> Tiles { get; init; } = [1, 4];

    /// <summary>Compute dtypes measured.</summary>
    public IReadOnlyList<torch.ScalarType> DTypes { get; init; } = [torch.ScalarType.BFloat16, torch.ScalarType.Float32];

    /// <summary>Timed calls per case after one warm-up call (the median is reported).</summary>
    public int Repetitions { get; init; } = 3;

    public int? Threads { get; init; }
}

/// <summary>One encoder case: <see cref="Tiles"/> tiles per call in <see cref="DType"/>.</summary>
public sealed record VisionEncoderRow(string DType, int Tiles, double SecondsPerCall, double TilesPerSecond, double GflopPerSecond);

/// <summary>Preprocessing of one image size: decode (PNG) and tiling, per image and per tile.</summary>
public sealed record VisionPreprocessRow(string Image, int Tiles, double DecodeMilliseconds, double TileMilliseconds, double TilesPerSecond);

/// <summary>What <see cref="VisionBenchmark.Run"/> measured.</summary>
public sealed record VisionBenchmarkResult(string Machine, int Threads, string Tower, double GflopPerTile, IReadOnlyList<VisionPreprocessRow> Preprocess,
    IReadOnlyList<VisionEncoderRow> Encoder);

/// <summary>
/// <c>llama4 bench vision</c>: tiles per second of image preprocessing (decode + spec §5.1, on synthetic PNGs of a one-tile
/// and a 16-tile canvas) and of the vision encoder + projector (spec §5.2) on a tower of the given shape with random
/// weights built in memory (Scout-shaped by default: 34 layers, hidden 1408, 577 tokens per tile, about 0.9 TFLOP per tile).
/// </summary>
public static class VisionBenchmark
{
    public static VisionBenchmarkResult Run(VisionBenchmarkOptions options, Action<string>? log = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Vision.Validate("bench vision");
        if (options.Threads is { } threads) torch.set_num_threads(threads);
        var preprocess = new List<VisionPreprocessRow>();
        int s = options.Vision.ImageSize;
        foreach (var (name, width, height) in new[] { ("one tile", s * 3 / 4, s / 2), ("16 tiles", s * 4 - 17, s * 4 - 9) })
        {
            var png = SyntheticPng(width, height);
            double decode = Median(() => ImageDecoder.Decode(png, long.MaxValue), 5) * 1e3;
            var rgb = ImageDecoder.Decode(png, long.MaxValue);
            ImageTiles? tiles = null;
            double tile = Median(() => tiles = ImagePreprocessor.Preprocess(rgb, s, 16), 5) * 1e3;
            preprocess.Add(new VisionPreprocessRow($"{name} ({width}×{height} PNG)", tiles!.TileCount, decode, tile, tiles.TileCount / ((decode + tile) / 1e3)));
            log?.Invoke($"preprocess {name}: decode {decode:F2} ms, tiles {tile:F2} ms ({tiles.TileCount} tiles)");
        }

        double gflop = FlopsPerTile(options.Vision, options.TextHiddenSize) / 1e9;
        var encoder = new List<VisionEncoderRow>();
        foreach (var dtype in options.DTypes)
        {
            var source = new RandomWeights(options.Vision, options.TextHiddenSize);
            using var model = Llama4VisionModel.Load(source, options.Vision, new ModelOptions { ComputeDType = dtype });
            foreach (int n in options.Tiles)
            {
                var images = Enumerable.Range(0, n).Select(i => RandomTile(s, seed: i)).ToArray();
                double seconds = Median(() =>
                {
                    using var features = model.Encode(images);
                }, options.Repetitions, warmUp: true);
                string name = dtype == torch.ScalarType.BFloat16 ? "bfloat16" : "float32";
                encoder.Add(new VisionEncoderRow(name, n, seconds, n / seconds, gflop * n / seconds));
                log?.Invoke($"encoder {name}, {n} tile(s): {seconds * 1e3:F0} ms per call, {n / seconds:F3} tiles/s, {gflop * n / seconds:F1} GFLOP/s");
            }
        }

        return new VisionBenchmarkResult(Environment.MachineName, torch.get_num_threads(),
            $"{options.Vision.NumHiddenLayers} layers, hidden {options.Vision.HiddenSize}, {options.Vision.ImageSize}-pixel tiles of {options.Vision.PatchSize}-pixel patches, projector to {options.TextHiddenSize}",
            gflop, preprocess, encoder);
    }

    /// <summary>Multiply-adds × 2 of one tile through the encoder, adapter and projector.</summary>
    public static double FlopsPerTile(Llama4VisionConfig c, int textHidden)
    {
        double tokens = c.PatchesPerTile + 1, h = c.HiddenSize, f = c.IntermediateSize;
        double layer = tokens * (4 * h * h + 2 * h * f) + 2 * tokens * tokens * h; // projections, MLP, scores and values
        double total = tokens * c.PatchValues * h + c.NumHiddenLayers * layer;
        total += c.TokensPerTile * ((double)c.ShuffledWidth * c.ProjectorInputDim + (double)c.ProjectorInputDim * c.ProjectorOutputDim
            + (double)c.VisionOutputDim * textHidden);
        return 2 * total;
    }

    private static ImageTiles RandomTile(int size, int seed)
    {
        var rng = new Random(seed);
        return new ImageTiles(size, 1, 1, [.. Enumerable.Range(0, 3 * size * size).Select(_ => (float)(rng.NextDouble() * 2 - 1))]);
    }

    /// <summary>A <paramref name="width"/> × <paramref name="height"/> PNG of colour gradients; <paramref name="seed"/> shifts
    /// the colours, so images of one size can differ in every pixel.</summary>
    public static byte[] SyntheticPng(int width, int height, int seed = 0)
    {
        using var bitmap = new SKBitmap(width, height);
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)(x * 7 + seed), (byte)(y * 3 + seed * 3), (byte)(x ^ y)));
        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    private static double Median(Action action, int repetitions, bool warmUp = true)
    {
        if (warmUp) action();
        var samples = new List<double>();
        for (int i = 0; i < Math.Max(1, repetitions); i++)
        {
            var w = Stopwatch.StartNew();
            action();
            samples.Add(w.Elapsed.TotalSeconds);
        }

        samples.Sort();
        return samples[samples.Count / 2];
    }

    /// <summary>Every vision tensor of spec §5.3 drawn at random in memory (no checkpoint written): Linear weights
    /// N(0, 1/fan_in), norms near 1, biases near 0.</summary>
    private sealed class RandomWeights(Llama4VisionConfig vision, int textHidden) : IWeightSource
    {
        public Llama4TextConfig Config { get; } = Llama4Presets.Scout with { HiddenSize = textHidden };

        public torch.Tensor Load(string name, long[] shape, torch.ScalarType dtype, torch.Device device)
        {
            using var scope = torch.NewDisposeScope();
            torch.Tensor t;
            if (name.EndsWith("norm_pre.weight", StringComparison.Ordinal) || name.EndsWith("norm_post.weight", StringComparison.Ordinal)
                || name.EndsWith("layernorm.weight", StringComparison.Ordinal))
                t = torch.ones(shape, torch.ScalarType.Float32);
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
                t = torch.zeros(shape, torch.ScalarType.Float32);
            else
                t = Runtime.ScalarOps.MulInPlace(torch.randn(shape, torch.ScalarType.Float32), 1 / Math.Sqrt(shape[^1]));
            return t.to(dtype, device).MoveToOuterDisposeScope();
        }

        public (torch.Tensor GateUp, torch.Tensor Down) LoadExperts(int layer, IReadOnlyList<int> experts, torch.ScalarType dtype, torch.Device device) =>
            throw new NotSupportedException($"the vision benchmark loads no experts (tower: {vision.NumHiddenLayers} layers)");
    }
}

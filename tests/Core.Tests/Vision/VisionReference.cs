using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>
/// An independent float64 reference of spec §5.1 / HF <c>Llama4ImageProcessorFast</c>, written as plain loops from the
/// formulas and sharing no code with src: canvas choice, the antialiased bilinear filter taken over every input sample
/// (weight <c>max(0, 1 − |x + ½ − centre| / max(scale, 1))</c>, normalised), 8-bit rounding, padding, normalisation, tiles.
/// Values are kept before rounding so a comparison can allow either side of an exact .5 (float32 vs float64).
/// </summary>
internal static class VisionReference
{
    /// <summary>The reference tiles: per value the resized 8-bit value before rounding (NaN where it is padding).</summary>
    internal sealed record Result(int Rows, int Columns, int TileSize, double[] Unrounded)
    {
        public int TileCount => Rows * Columns + (Rows * Columns > 1 ? 1 : 0);
    }

    /// <summary>HF's canvas choice and resize size (float32 where HF holds tensors; see the plan's remarks in src).</summary>
    internal static (int Rows, int Columns, int Height, int Width) Plan(int height, int width, int tile, int maxTiles)
    {
        var best = (Rows: 0, Columns: 0);
        float bestScale = 0;
        bool bestUp = false;
        for (int rows = 1; rows <= maxTiles; rows++)
        {
            for (int columns = 1; rows * columns <= maxTiles; columns++)
            {
                float s = Math.Min((float)(columns * tile) / width, (float)(rows * tile) / height);
                bool up = s >= 1;
                bool better = best.Rows == 0
                    || (up && !bestUp)
                    || (up && bestUp && s < bestScale)
                    || (!up && !bestUp && s > bestScale)
                    || (up == bestUp && s == bestScale && rows * columns < best.Rows * best.Columns);
                if (better) (best, bestScale, bestUp) = ((rows, columns), s, up);
            }
        }

        int canvasH = best.Rows * tile, canvasW = best.Columns * tile;
        int th = Math.Min(Math.Max(height, tile), canvasH);
        int tw = Math.Min(Math.Max(width, tile), canvasW);
        bool hTensor = canvasH < Math.Max(height, tile), wTensor = canvasW < Math.Max(width, tile);
        double sw = wTensor ? (float)tw / width : (double)tw / width;
        double sh = hTensor ? (float)th / height : (double)th / height;
        bool widthLimits = hTensor || wTensor ? (float)sw < (float)sh : sw < sh;
        int h, w;
        if (widthLimits)
        {
            w = tw;
            h = Math.Min(wTensor ? (int)Math.Floor((double)((float)height * (float)sw)) : (int)Math.Floor(height * sw), th);
        }
        else
        {
            h = th;
            w = Math.Min(hTensor ? (int)Math.Floor((double)((float)width * (float)sh)) : (int)Math.Floor(width * sh), tw);
        }
        return (best.Rows, best.Columns, Math.Max(h, 1), Math.Max(w, 1));
    }

    internal static Result Preprocess(RgbImage image, int tile, int maxTiles = 16)
    {
        var (rows, columns, h, w) = Plan(image.Height, image.Width, tile, maxTiles);
        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        var values = new double[tiles * 3 * tile * tile];
        Array.Fill(values, double.NaN);

        var resized = Resize(image, h, w);
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int t = (y / tile) * columns + x / tile;
                    values[((t * 3 + c) * tile + y % tile) * tile + x % tile] = resized[(y * w + x) * 3 + c];
                }

        if (tiles > 1)
        {
            var global = Resize(image, tile, tile);
            int t = rows * columns;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < tile; y++)
                    for (int x = 0; x < tile; x++)
                        values[((t * 3 + c) * tile + y) * tile + x] = global[(y * tile + x) * 3 + c];
        }
        return new Result(rows, columns, tile, values);
    }

    /// <summary>The 8-bit value torch's round-half-even gives <paramref name="v"/>, normalised: <c>(r / 255 − 0.5) / 0.5</c>.</summary>
    internal static double Normalize(double rounded) => (rounded / 255.0 - 0.5) / 0.5;

    /// <summary><c>[outH, outW, 3]</c> before rounding: horizontal pass, then vertical, in float64.</summary>
    internal static double[] Resize(RgbImage image, int outH, int outW)
    {
        var (xStart, xWeights) = Taps(image.Width, outW);
        var (yStart, yWeights) = Taps(image.Height, outH);
        var wide = new double[image.Height * outW * 3];
        for (int y = 0; y < image.Height; y++)
            for (int ox = 0; ox < outW; ox++)
                for (int c = 0; c < 3; c++)
                {
                    double sum = 0;
                    for (int j = 0; j < xWeights[ox].Length; j++)
                        sum += xWeights[ox][j] * image.Rgb[(y * image.Width + xStart[ox] + j) * 3 + c];
                    wide[(y * outW + ox) * 3 + c] = sum;
                }
        var output = new double[outH * outW * 3];
        for (int oy = 0; oy < outH; oy++)
            for (int i = 0; i < outW * 3; i++)
            {
                double sum = 0;
                for (int j = 0; j < yWeights[oy].Length; j++)
                    sum += yWeights[oy][j] * wide[(yStart[oy] + j) * outW * 3 + i];
                output[oy * outW * 3 + i] = sum;
            }
        return output;
    }

    /// <summary>Per output sample, the first input with a non-zero weight and the normalised weights from there.</summary>
    private static (int[] Start, double[][] Weights) Taps(int inSize, int outSize)
    {
        var start = new int[outSize];
        var weights = new double[outSize][];
        if (inSize == outSize)
        {
            for (int i = 0; i < outSize; i++) (start[i], weights[i]) = (i, [1.0]);
            return (start, weights);
        }
        double scale = (double)inSize / outSize, support = Math.Max(scale, 1.0);
        for (int i = 0; i < outSize; i++)
        {
            double center = scale * (i + 0.5);
            var all = new double[inSize];
            double total = 0;
            int first = -1, last = -1;
            for (int x = 0; x < inSize; x++)
            {
                all[x] = Math.Max(0, 1 - Math.Abs(x + 0.5 - center) / support);
                total += all[x];
                if (all[x] > 0)
                {
                    if (first < 0) first = x;
                    last = x;
                }
            }
            start[i] = first;
            weights[i] = all[first..(last + 1)].Select(v => v / total).ToArray();
        }
        return (start, weights);
    }

    /// <summary>
    /// Asserts <paramref name="actual"/> equals the reference to 1e-6, except that a value whose unrounded reference lies
    /// within <see cref="TieWindow"/> of k + ½ may round either way, and asserts such flips are rare (≤ 1 in 1000 values, or 2 in a tiny image: an exact tie such as 97.5 can come
    /// out 97.49999999999999 in float64 and exactly 97.5 in float32).
    /// Returns the number of flips.
    /// </summary>
    /// <remarks>
    /// The window: torch (and the code under test) place sample centres in float32 (<c>scale · (i + ½)</c> with the
    /// scale itself rounded to float32), so on a 2000-pixel side a centre can be ~10⁻⁴ pixel off the exact position and a
    /// resized value ~0.01 of a level off the float64 one; outside ±0.05 of a tie the 8-bit results must be equal.
    /// </remarks>
    internal static int AssertMatches(Result expected, ImageTiles actual)
    {
        Assert.Equal(expected.Rows, actual.Rows);
        Assert.Equal(expected.Columns, actual.Columns);
        Assert.Equal(expected.TileSize, actual.TileSize);
        Assert.Equal(expected.Unrounded.Length, actual.Pixels.Length);
        int flips = 0;
        string firstFlip = "";
        for (int i = 0; i < actual.Pixels.Length; i++)
        {
            double u = expected.Unrounded[i];
            double a = actual.Pixels[i];
            if (double.IsNaN(u))
            {
                if (a != -1.0) Assert.Fail($"value {i} is padding: expected -1, got {a}");
                continue;
            }
            double rounded = Math.Clamp(Math.Round(u, MidpointRounding.ToEven), 0, 255);
            if (Math.Abs(a - Normalize(rounded)) <= 1e-6) continue;
            double fraction = u - Math.Floor(u);
            if (Math.Abs(fraction - 0.5) < TieWindow)
            {
                double other = rounded == Math.Floor(u) ? Math.Ceiling(u) : Math.Floor(u);
                if (Math.Abs(a - Normalize(other)) <= 1e-6)
                {
                    if (flips++ == 0) firstFlip = $" (first: value {i}, unrounded {u:R}, got {a:R})";
                    continue;
                }
            }
            Assert.Fail($"value {i} (tile {i / (3 * expected.TileSize * expected.TileSize)}): expected {Normalize(rounded)} (unrounded {u}), got {a}");
        }
        Assert.True(flips <= Math.Max(2, actual.Pixels.Length / 1000), $"{flips} of {actual.Pixels.Length} values rounded the other way at a near-tie{firstFlip}");
        return flips;
    }

    /// <summary>Distance from k + ½ (in 8-bit levels) within which float32 and float64 may round differently.</summary>
    internal const double TieWindow = 0.05;
}

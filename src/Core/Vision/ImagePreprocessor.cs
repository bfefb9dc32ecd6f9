namespace Llama4Cluster.Core.Vision;

/// <summary>
/// Image → tiles (spec §5.1), as transformers' <c>Llama4ImageProcessorFast</c> does with its defaults
/// (<c>resize_to_max_canvas</c> false): the canvas of at most <c>maxTiles</c> tiles needing the smallest upscale ≥ 1 (else
/// the least downscale; ties: the smallest area), an aspect-preserving resize whose upscaling stops at the tile size,
/// black padding to the canvas (bottom and right), normalisation to <c>(x − 127.5) / 127.5</c>, the tiles row-major, then —
/// when there is more than one — the whole image resized to one tile (distorted). Resizing is bilinear with antialiasing
/// (the triangle filter widened by the scale when shrinking, as torchvision's <c>antialias=True</c> and Pillow), computed
/// in double and rounded to 8 bits as torchvision does for 8-bit images; its fixed-point kernel may round a value the
/// other way (±1 of 255). HF normalises in bfloat16 for a bf16 model; this is fp32.
/// </summary>
public static class ImagePreprocessor
{
    /// <summary>Decodes <paramref name="encoded"/> (<see cref="ImageDecoder"/>) and cuts it into tiles.</summary>
    public static ImageTiles Preprocess(ReadOnlySpan<byte> encoded, int tileSize, int maxTiles, long maxPixels) =>
        Preprocess(ImageDecoder.Decode(encoded, maxPixels), tileSize, maxTiles);

    /// <summary>Cuts <paramref name="image"/> into tiles of <paramref name="tileSize"/> pixels, at most
    /// <paramref name="maxTiles"/> of them besides the global tile.</summary>
    public static ImageTiles Preprocess(RgbImage image, int tileSize, int maxTiles = 16)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tileSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTiles);
        var (rows, columns) = Canvas(image.Height, image.Width, tileSize, maxTiles);
        int canvasH = rows * tileSize, canvasW = columns * tileSize;
        // Upscaling stops at the tile size: a small image is not blown up to fill a large canvas.
        int limitH = Math.Min(Math.Max(image.Height, tileSize), canvasH), limitW = Math.Min(Math.Max(image.Width, tileSize), canvasW);
        var (newH, newW) = FitWithoutDistortion(image.Height, image.Width, limitH, limitW);
        var resized = Resize(image, newH, newW);

        int tiles = rows * columns + (rows * columns > 1 ? 1 : 0);
        long plane = (long)tileSize * tileSize;
        var pixels = new float[tiles * 3 * plane];
        // Canvas tiles: padding (black, 0) reads as −1 after normalisation.
        for (int r = 0; r < rows; r++)
        for (int c = 0; c < columns; c++)
        {
            long tileBase = (r * columns + c) * 3 * plane;
            for (int y = 0; y < tileSize; y++)
            {
                int sy = r * tileSize + y;
                for (int x = 0; x < tileSize; x++)
                {
                    int sx = c * tileSize + x;
                    bool inside = sy < newH && sx < newW;
                    for (int ch = 0; ch < 3; ch++)
                    {
                        byte v = inside ? resized[3 * ((long)sy * newW + sx) + ch] : (byte)0;
                        pixels[tileBase + ch * plane + (long)y * tileSize + x] = Normalize(v);
                    }
                }
            }
        }

        if (tiles > 1)
        {
            var global = Resize(image, tileSize, tileSize);
            long tileBase = (tiles - 1) * 3 * plane;
            for (long p = 0; p < plane; p++)
                for (int ch = 0; ch < 3; ch++)
                    pixels[tileBase + ch * plane + p] = Normalize(global[3 * p + ch]);
        }

        return new ImageTiles(tileSize, rows, columns, pixels);
    }

    /// <summary>(x / 255 − 0.5) / 0.5 as the fast processor fuses it: (x − 127.5) / 127.5.</summary>
    private static float Normalize(byte v) => (v - 127.5f) / 127.5f;

    /// <summary>
    /// The tile grid (rows, columns) for an image of <paramref name="height"/> × <paramref name="width"/>: among every grid
    /// of at most <paramref name="maxTiles"/> tiles, scale = min(canvas height / height, canvas width / width); the smallest
    /// scale ≥ 1 if any, else the largest; ties broken by the smallest canvas area (HF's <c>get_best_fit</c>).
    /// </summary>
    public static (int Rows, int Columns) Canvas(int height, int width, int tileSize, int maxTiles)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        var grids = new List<(int Rows, int Columns, double Scale)>();
        for (int r = 1; r <= maxTiles; r++)
            for (int c = 1; r * c <= maxTiles; c++)
                grids.Add((r, c, Math.Min((double)r * tileSize / height, (double)c * tileSize / width)));
        var up = grids.Where(g => g.Scale >= 1).ToList();
        double chosen = up.Count > 0 ? up.Min(g => g.Scale) : grids.Max(g => g.Scale);
        var best = grids.Where(g => g.Scale == chosen).MinBy(g => (long)g.Rows * g.Columns)!;
        return (best.Rows, best.Columns);
    }

    /// <summary>The largest size within (<paramref name="targetH"/>, <paramref name="targetW"/>) with the image's aspect
    /// (HF's <c>get_max_res_without_distortion</c>: the tighter side fills its target, the other is floored).</summary>
    public static (int Height, int Width) FitWithoutDistortion(int height, int width, int targetH, int targetW)
    {
        double scaleW = (double)targetW / width, scaleH = (double)targetH / height;
        return scaleW < scaleH
            ? (Math.Min((int)Math.Floor(height * scaleW), targetH), targetW)
            : (targetH, Math.Min((int)Math.Floor(width * scaleH), targetW));
    }

    /// <summary>Antialiased bilinear resize of RGB bytes to <paramref name="outH"/> × <paramref name="outW"/>, separable
    /// (columns, then rows), in double, rounded once to bytes.</summary>
    public static byte[] Resize(RgbImage image, int outH, int outW)
    {
        int inH = image.Height, inW = image.Width;
        var (xStart, xWeights) = Taps(inW, Math.Max(outW, 1));
        var (yStart, yWeights) = Taps(inH, Math.Max(outH, 1));
        var horizontal = new double[(long)inH * outW * 3];
        var src = image.Rgb;
        Parallel.For(0, inH, y =>
        {
            long row = (long)y * inW * 3, outRow = (long)y * outW * 3;
            for (int x = 0; x < outW; x++)
            {
                double r = 0, g = 0, b = 0;
                var w = xWeights[x];
                for (int k = 0; k < w.Length; k++)
                {
                    long s = row + (xStart[x] + k) * 3L;
                    r += w[k] * src[s];
                    g += w[k] * src[s + 1];
                    b += w[k] * src[s + 2];
                }

                horizontal[outRow + x * 3] = r;
                horizontal[outRow + x * 3 + 1] = g;
                horizontal[outRow + x * 3 + 2] = b;
            }
        });
        var result = new byte[(long)outH * outW * 3];
        Parallel.For(0, outH, y =>
        {
            var w = yWeights[y];
            long outRow = (long)y * outW * 3;
            for (int i = 0; i < outW * 3; i++)
            {
                double v = 0;
                for (int k = 0; k < w.Length; k++) v += w[k] * horizontal[(long)(yStart[y] + k) * outW * 3 + i];
                result[outRow + i] = (byte)Math.Clamp(Math.Round(v, MidpointRounding.AwayFromZero), 0, 255);
            }
        });
        return result;
    }

    /// <summary>Per output index, its first input index and normalised triangle-filter weights (support 1, widened by the
    /// scale when shrinking; centres at half-pixels, as align_corners false).</summary>
    private static (int[] Start, double[][] Weights) Taps(int inSize, int outSize)
    {
        double scale = (double)inSize / outSize;
        double support = scale >= 1 ? scale : 1.0;
        double invScale = scale >= 1 ? 1 / scale : 1.0;
        var start = new int[outSize];
        var weights = new double[outSize][];
        for (int i = 0; i < outSize; i++)
        {
            double center = scale * (i + 0.5);
            int min = Math.Max((int)(center - support + 0.5), 0);
            int max = Math.Min((int)(center + support + 0.5), inSize);
            var w = new double[Math.Max(max - min, 1)];
            double total = 0;
            for (int j = 0; j < w.Length; j++)
            {
                double x = (min + j - center + 0.5) * invScale;
                w[j] = Math.Max(0, 1 - Math.Abs(x));
                total += w[j];
            }

            for (int j = 0; j < w.Length; j++) w[j] = total > 0 ? w[j] / total : 1.0 / w.Length;
            start[i] = min;
            weights[i] = w;
        }

        return (start, weights);
    }
}

using Llama4Cluster.Core.Vision;
using SkiaSharp;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>
/// Image → tiles (spec §5.1) against hand-worked canvas choices and a float64 reference of the antialiased bilinear resize
/// written here as a direct 2-D sum (no code shared with src); padding, normalisation, tile order and the global tile; and
/// the decoder on PNG, JPEG, WebP and GIF, transparency over white, and bytes it must refuse.
/// </summary>
public sealed class ImagePreprocessorTests
{
    [Theory]
    [InlineData(500, 1000, 336, 16, 2, 3)]  // smallest upscale ≥ 1 is 1.008, held by 2×3 … 5×3: the smallest area wins
    [InlineData(40, 30, 56, 16, 1, 1)]      // any canvas upscales; one tile needs the least
    [InlineData(2000, 3000, 56, 16, 3, 5)]  // every canvas downscales; 3×5 keeps the most (0.084)
    [InlineData(336, 336, 336, 16, 1, 1)]
    [InlineData(337, 336, 336, 16, 2, 1)]
    [InlineData(100, 5000, 56, 4, 1, 4)]    // a long strip: the widest canvas the tile budget allows
    public void TheCanvasIsTheOneHfPicks(int height, int width, int tile, int maxTiles, int rows, int columns) =>
        Assert.Equal((rows, columns), ImagePreprocessor.Canvas(height, width, tile, maxTiles));

    private static RgbImage Random(int width, int height, int seed)
    {
        var rng = new System.Random(seed);
        var rgb = new byte[width * height * 3];
        rng.NextBytes(rgb);
        return new RgbImage(width, height, rgb);
    }

    /// <summary>The resized value at (y, x, c) as the 2-D sum of the triangle filter (support 1, widened by the scale when
    /// shrinking; half-pixel centres), weights normalised per axis, in double, before rounding.</summary>
    private static double Reference(RgbImage image, int outH, int outW, int y, int x, int c)
    {
        static double[] Weights(int inSize, int outSize, int i, out int first)
        {
            double scale = (double)inSize / outSize, support = Math.Max(scale, 1), stretch = Math.Max(scale, 1);
            double center = (i + 0.5) * scale;
            first = Math.Max((int)Math.Floor(center - support + 0.5), 0);
            int last = Math.Min((int)Math.Floor(center + support + 0.5), inSize);
            var w = new double[last - first];
            for (int j = 0; j < w.Length; j++) w[j] = Math.Max(0, 1 - Math.Abs((first + j + 0.5 - center) / stretch));
            double sum = w.Sum();
            return w.Select(v => v / sum).ToArray();
        }

        var wy = Weights(image.Height, outH, y, out int y0);
        var wx = Weights(image.Width, outW, x, out int x0);
        double total = 0;
        for (int a = 0; a < wy.Length; a++)
            for (int b = 0; b < wx.Length; b++)
                total += wy[a] * wx[b] * image.Rgb[3 * ((y0 + a) * image.Width + x0 + b) + c];
        return total;
    }

    [Theory]
    [InlineData(30, 20, 56, 37)]   // upscaling
    [InlineData(200, 150, 56, 41)] // downscaling, antialiased
    [InlineData(90, 60, 60, 90)]   // a transpose of sizes: one axis up, one down
    public void TheResizeIsTheAntialiasedBilinearFilter(int width, int height, int outH, int outW)
    {
        var image = Random(width, height, seed: width + height);
        var resized = ImagePreprocessor.Resize(image, outH, outW);
        for (int y = 0; y < outH; y++)
            for (int x = 0; x < outW; x++)
                for (int c = 0; c < 3; c++)
                {
                    double expected = Reference(image, outH, outW, y, x, c);
                    byte got = resized[3 * (y * outW + x) + c];
                    // Rounded to the nearest byte; a value within 1e-9 of a half may round either way.
                    double frac = expected - Math.Floor(expected);
                    if (Math.Abs(frac - 0.5) < 1e-9) Assert.InRange(got, Math.Floor(expected), Math.Ceiling(expected));
                    else Assert.Equal(Math.Clamp(Math.Round(expected), 0, 255), got);
                }
    }

    [Fact]
    public void ASmallImageIsUpscaledToOneTileAndPaddedWithBlack()
    {
        // 30 wide, 40 high, 56-pixel tiles: one tile; upscaled by 56/40 to 42 × 56, then padded on the right.
        var image = Random(30, 40, seed: 1);
        var tiles = ImagePreprocessor.Preprocess(image, 56, 16);
        Assert.Equal((1, 1, 1), (tiles.Rows, tiles.Columns, tiles.TileCount));
        var resized = ImagePreprocessor.Resize(image, 56, 42);
        int plane = 56 * 56;
        for (int y = 0; y < 56; y++)
            for (int x = 0; x < 56; x++)
                for (int c = 0; c < 3; c++)
                {
                    float v = tiles.Pixels[c * plane + y * 56 + x];
                    double expected = x < 42 ? (resized[3 * (y * 42 + x) + c] - 127.5) / 127.5 : -1; // padding is black: −1
                    Assert.Equal(expected, v, 1e-6);
                }
    }

    [Fact]
    public void AWideImageBecomesRowMajorTilesAndAGlobalTile()
    {
        // 150 wide, 50 high, 56-pixel tiles: 1 × 3 tiles (168 × 56); fitted to 150 × 50 (no upscale beyond the image),
        // padded; the global tile is the whole image squeezed to 56 × 56.
        var image = Random(150, 50, seed: 2);
        var tiles = ImagePreprocessor.Preprocess(image, 56, 16);
        Assert.Equal((1, 3, 4), (tiles.Rows, tiles.Columns, tiles.TileCount));
        int plane = 56 * 56;
        for (int t = 0; t < 3; t++)
            for (int y = 0; y < 56; y++)
                for (int x = 0; x < 56; x++)
                {
                    int sx = t * 56 + x;
                    bool inside = y < 50 && sx < 150;
                    double expected = inside ? (image.Rgb[3 * (y * 150 + sx) + 1] - 127.5) / 127.5 : -1; // the green channel
                    Assert.Equal(expected, tiles.Pixels[(t * 3 + 1) * plane + y * 56 + x], 1e-6);
                }

        var global = ImagePreprocessor.Resize(image, 56, 56);
        for (int p = 0; p < plane; p++)
            Assert.Equal((global[3 * p + 2] - 127.5) / 127.5, tiles.Pixels[(3 * 3 + 2) * plane + p], 1e-6); // blue of tile 4
    }

    [Fact]
    public void ATallImageIsCutRowsFirst()
    {
        // 60 wide, 120 high, 56-pixel tiles, at most 4: every canvas shrinks it by 0.933 at best (2×1, 2×2, 3×1, 4×1), the
        // smallest is 2 × 1 (56 × 112); the fit is 112 high and ⌊60 · (112/120)⌋ = 56 wide (as Python computes it).
        var image = Random(60, 120, seed: 3);
        var tiles = ImagePreprocessor.Preprocess(image, 56, 4);
        Assert.Equal((2, 1, 3), (tiles.Rows, tiles.Columns, tiles.TileCount));
        Assert.Equal((112, 56), ImagePreprocessor.FitWithoutDistortion(120, 60, 112, 56));
        Assert.Equal((100, 50), ImagePreprocessor.FitWithoutDistortion(120, 60, 100, 56)); // the height binds
        var resized = ImagePreprocessor.Resize(image, 112, 56);
        int plane = 56 * 56;
        // Tile 1 is the canvas' second row of tiles: rows 56…111.
        for (int y = 0; y < 56; y++)
            for (int x = 0; x < 56; x += 11)
                Assert.Equal((resized[3 * ((56 + y) * 56 + x)] - 127.5) / 127.5, tiles.Pixels[1 * 3 * plane + y * 56 + x], 1e-6);
    }

    private static byte[] Encode(SKBitmap bitmap, SKEncodedImageFormat format, int quality = 100)
    {
        using var data = bitmap.Encode(format, quality);
        return data.ToArray();
    }

    private static SKBitmap Gradient(int width, int height, byte alpha = 255)
    {
        var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                bitmap.SetPixel(x, y, new SKColor((byte)(x * 8), (byte)(y * 8), (byte)(x + y), alpha));
        return bitmap;
    }

    [Theory]
    [InlineData(SKEncodedImageFormat.Png, 0)]
    [InlineData(SKEncodedImageFormat.Jpeg, 12)]
    [InlineData(SKEncodedImageFormat.Webp, 12)]
    public void PngJpegAndWebpDecodeToTheirPixels(SKEncodedImageFormat format, int tolerance)
    {
        using var bitmap = Gradient(24, 16);
        var image = ImageDecoder.Decode(Encode(bitmap, format), 1_000_000);
        Assert.Equal((24, 16), (image.Width, image.Height));
        for (int y = 0; y < 16; y++)
            for (int x = 0; x < 24; x++)
            {
                var c = bitmap.GetPixel(x, y);
                int i = 3 * (y * 24 + x);
                Assert.InRange(Math.Abs(image.Rgb[i] - c.Red), 0, tolerance);
                Assert.InRange(Math.Abs(image.Rgb[i + 1] - c.Green), 0, tolerance);
                Assert.InRange(Math.Abs(image.Rgb[i + 2] - c.Blue), 0, tolerance);
            }
    }

    [Fact]
    public void TransparencyIsCompositedOverWhite()
    {
        using var clear = Gradient(4, 4, alpha: 0);
        var image = ImageDecoder.Decode(Encode(clear, SKEncodedImageFormat.Png), 100);
        Assert.All(image.Rgb, v => Assert.Equal(255, v));
        using var half = new SKBitmap(new SKImageInfo(1, 1, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        half.SetPixel(0, 0, new SKColor(0, 100, 200, 128));
        var mixed = ImageDecoder.Decode(Encode(half, SKEncodedImageFormat.Png), 100).Rgb;
        // v · a + 255 · (1 − a) with a = 128/255.
        Assert.Equal([(byte)127, (byte)177, (byte)227], mixed);
    }

    [Fact]
    public void AGifDecodesItsFirstFrame()
    {
        // A 2 × 2 GIF89a by hand: palette red, blue; pixels red blue / blue red (LZW: clear, 0, 1, 1, 0, end).
        byte[] gif =
        [
            .. "GIF89a"u8, 2, 0, 2, 0, 0x80, 0, 0, 0xFF, 0, 0, 0, 0, 0xFF,
            0x2C, 0, 0, 0, 0, 2, 0, 2, 0, 0, 2, 3, 0x44, 0x02, 0x05, 0, 0x3B,
        ];
        var image = ImageDecoder.Decode(gif, 100);
        Assert.Equal((2, 2), (image.Width, image.Height));
        Assert.Equal([255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0], image.Rgb.Select(b => (int)b).ToArray());
    }

    [Fact]
    public void BytesThatAreNotATakenImageAreRefusedWithAReason()
    {
        Assert.Contains("empty", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode([], 100)).Message);
        Assert.Contains("not a PNG, JPEG, WebP or GIF", Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode("hello, not an image"u8, 100)).Message);
        using var bitmap = Gradient(20, 10);
        var png = Encode(bitmap, SKEncodedImageFormat.Png);
        Assert.Contains("20×10 = 200 pixels, more than the limit of 199",
            Assert.Throws<InvalidDataException>(() => ImageDecoder.Decode(png, 199)).Message);
        Assert.ThrowsAny<InvalidDataException>(() => ImageDecoder.Decode(png.AsSpan(0, png.Length / 2), 1000));
    }
}

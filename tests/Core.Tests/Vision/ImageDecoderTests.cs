using Llama4Cluster.Core.Vision;
using SkiaSharp;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>Decoding, the white composite, the pixel limit and refusals of <see cref="ImageDecoder"/>.</summary>
public sealed class ImageDecoderTests
{
    /// <summary>
    /// A hand-made 2×2 GIF89a (Skia cannot encode GIF): global palette {red, blue}, pixels red, blue / blue, red. The LZW
    /// stream (minimum code size 2, 3-bit codes) sends a clear code before every index so the table never grows:
    /// 4 0 4 1 4 1 4 0 5, packed LSB first into 04 C3 10 05.
    /// </summary>
    private static readonly byte[] TwoColourGif =
    [
        0x47, 0x49, 0x46, 0x38, 0x39, 0x61, // GIF89a
        0x02, 0x00, 0x02, 0x00, 0x80, 0x00, 0x00, // 2×2 screen, global palette of 2 entries
        0xFF, 0x00, 0x00, 0x00, 0x00, 0xFF, // red, blue
        0x2C, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x02, 0x00, 0x00, // image descriptor 2×2 at (0, 0)
        0x02, 0x04, 0x04, 0xC3, 0x10, 0x05, 0x00, // LZW min code size 2, one 4-byte block, terminator
        0x3B, // trailer
    ];

    [Fact]
    public void Png_round_trips_exactly()
    {
        var image = TestImages.Noisy(33, 47);
        var decoded = ImageDecoder.Decode(TestImages.Encode(47, 33, TestImages.ToRgba(image), SKEncodedImageFormat.Png));
        Assert.Equal((47, 33), (decoded.Width, decoded.Height));
        Assert.Equal(image.Rgb, decoded.Rgb);
    }

    [Fact]
    public void Lossless_webp_round_trips_exactly()
    {
        var image = TestImages.Noisy(21, 64, seed: 8);
        var webp = TestImages.Encode(64, 21, TestImages.ToRgba(image), SKEncodedImageFormat.Webp);
        Assert.Equal(new ImageHeader(ImageFormat.WebP, 64, 21), ImageDecoder.ReadHeader(webp));
        Assert.Equal(image.Rgb, ImageDecoder.Decode(webp).Rgb);
    }

    [Fact]
    public void Jpeg_round_trips_within_lossy_error()
    {
        // A smooth image (no noise): JPEG at quality 95 stays within a few levels on average.
        var rgba = new byte[64 * 48 * 4];
        for (int y = 0; y < 48; y++)
            for (int x = 0; x < 64; x++)
            {
                int i = (y * 64 + x) * 4;
                (rgba[i], rgba[i + 1], rgba[i + 2], rgba[i + 3]) = ((byte)(x * 4), (byte)(y * 5), (byte)(128 + x - y), 255);
            }
        var jpeg = TestImages.Encode(64, 48, rgba, SKEncodedImageFormat.Jpeg, quality: 95);
        Assert.Equal(ImageFormat.Jpeg, ImageDecoder.ReadHeader(jpeg).Format);
        var decoded = ImageDecoder.Decode(jpeg);
        double error = 0;
        for (int p = 0; p < 64 * 48; p++)
            for (int c = 0; c < 3; c++)
                error += Math.Abs(decoded.Rgb[p * 3 + c] - rgba[p * 4 + c]);
        Assert.True(error / (64 * 48 * 3) < 3, $"mean absolute error {error / (64 * 48 * 3)}");
    }

    [Fact]
    public void Transparency_is_composited_over_white()
    {
        // Transparent red → white; half-transparent blue (α 128) → round((255·127)/255) = 127 for red and green.
        byte[] rgba = [255, 0, 0, 0, 0, 0, 255, 128, 10, 20, 30, 255];
        var decoded = ImageDecoder.Decode(TestImages.Encode(3, 1, rgba, SKEncodedImageFormat.Png));
        Assert.Equal([255, 255, 255, 127, 127, 255, 10, 20, 30], decoded.Rgb);
    }

    [Fact]
    public void Gif_first_frame_decodes_to_its_palette_colours()
    {
        Assert.Equal(new ImageHeader(ImageFormat.Gif, 2, 2), ImageDecoder.ReadHeader(TwoColourGif));
        var decoded = ImageDecoder.Decode(TwoColourGif);
        Assert.Equal([255, 0, 0, 0, 0, 255, 0, 0, 255, 255, 0, 0], decoded.Rgb);
    }

    [Fact]
    public void Over_limit_image_is_refused_from_its_header()
    {
        var png = TestImages.Encode(100, 50, TestImages.ToRgba(TestImages.Noisy(50, 100)), SKEncodedImageFormat.Png);
        var e = Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(png, maxPixels: 4999));
        Assert.Contains("100×50 = 5000 pixels, more than the limit 4999", e.Message, StringComparison.Ordinal);
        Assert.Equal(5000 * 3, ImageDecoder.Decode(png, maxPixels: 5000).Rgb.Length);
    }

    [Fact]
    public void Header_of_a_bomb_is_read_without_decoding_it()
    {
        // A PNG header claiming 60000×60000 with no pixel data: refused by the limit, never allocated.
        var png = TestImages.Encode(1, 1, [0, 0, 0, 255], SKEncodedImageFormat.Png);
        png[16] = 0x00; png[17] = 0x00; png[18] = 0xEA; png[19] = 0x60; // IHDR width 60000
        png[20] = 0x00; png[21] = 0x00; png[22] = 0xEA; png[23] = 0x60; // IHDR height 60000
        FixIhdrCrc(png);
        var e = Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(png));
        Assert.Contains("60000×60000", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 })]
    [InlineData(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0 })] // PNG signature, then nothing
    [InlineData(new byte[] { 0x47, 0x49, 0x46, 0x38, 0x39, 0x61 })] // GIF89a, then nothing
    public void Garbage_is_refused_clearly(byte[] bytes)
    {
        var e = Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(bytes));
        Assert.False(string.IsNullOrWhiteSpace(e.Message));
    }

    [Fact]
    public void Empty_and_truncated_input_is_refused()
    {
        Assert.Contains("empty", Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode([])).Message, StringComparison.Ordinal);
        var png = TestImages.Encode(64, 64, TestImages.ToRgba(TestImages.Noisy(64, 64)), SKEncodedImageFormat.Png);
        Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(png.AsSpan(0, png.Length / 2)));
        var jpeg = TestImages.Encode(64, 64, TestImages.ToRgba(TestImages.Noisy(64, 64)), SKEncodedImageFormat.Jpeg, 90);
        Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(jpeg.AsSpan(0, jpeg.Length / 2)));
    }

    [Fact]
    public void Other_formats_skia_reads_are_refused()
    {
        // A 1×1 BMP: Skia decodes it, the server does not accept it.
        byte[] bmp =
        [
            0x42, 0x4D, 0x3A, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0, 0x28, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0x18, 0,
            0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0,
        ];
        var e = Assert.Throws<InvalidImageException>(() => ImageDecoder.Decode(bmp));
        Assert.Contains("PNG/JPEG/WebP/GIF", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Random_corruptions_never_escape_as_anything_but_invalid_image()
    {
        var png = TestImages.Encode(24, 24, TestImages.ToRgba(TestImages.Noisy(24, 24)), SKEncodedImageFormat.Png);
        var rng = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            var bytes = (byte[])png.Clone();
            for (int k = 0; k < 4; k++) bytes[rng.Next(bytes.Length)] = (byte)rng.Next(256);
            try
            {
                var image = ImageDecoder.Decode(bytes);
                Assert.Equal(image.Width * image.Height * 3, image.Rgb.Length);
            }
            catch (InvalidImageException)
            {
            }
        }
    }

    private static void FixIhdrCrc(byte[] png)
    {
        // CRC-32 over the chunk type and data (bytes 12…28 of a PNG: "IHDR" + 13 bytes), stored big-endian after them.
        uint crc = 0xFFFFFFFF;
        for (int i = 12; i < 29; i++)
        {
            crc ^= png[i];
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        crc ^= 0xFFFFFFFF;
        png[29] = (byte)(crc >> 24); png[30] = (byte)(crc >> 16); png[31] = (byte)(crc >> 8); png[32] = (byte)crc;
    }
}

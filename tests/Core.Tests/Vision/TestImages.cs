using Llama4Cluster.Core.Vision;
using SkiaSharp;

namespace Llama4Cluster.Core.Tests.Vision;

/// <summary>Deterministic synthetic images, and encoders for them (Skia), for the vision tests.</summary>
internal static class TestImages
{
    /// <summary>A smooth colour gradient with deterministic noise: every filter tap and rounding matters.</summary>
    internal static RgbImage Noisy(int height, int width, uint seed = 12345)
    {
        var rgb = new byte[height * width * 3];
        uint state = seed;
        for (int y = 0; y < height; y++)
            for (int x = 0; x < width; x++)
                for (int c = 0; c < 3; c++)
                {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    int gradient = c switch { 0 => 255 * x / width, 1 => 255 * y / height, _ => 255 * (x + y) / (width + height) };
                    rgb[(y * width + x) * 3 + c] = (byte)Math.Clamp(gradient + (int)(state % 61) - 30, 0, 255);
                }
        return new RgbImage(width, height, rgb);
    }

    /// <summary>Encodes 8-bit RGBA (unpremultiplied) as <paramref name="format"/>; WebP is lossless.</summary>
    internal static byte[] Encode(int width, int height, byte[] rgba, SKEncodedImageFormat format, int quality = 100)
    {
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var bitmap = new SKBitmap(info);
        System.Runtime.InteropServices.Marshal.Copy(rgba, 0, bitmap.GetPixels(), rgba.Length);
        using var pixmap = bitmap.PeekPixels();
        using var data = format == SKEncodedImageFormat.Webp
            ? pixmap.Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 100))
            : pixmap.Encode(format, quality);
        Assert.NotNull(data);
        return data.ToArray();
    }

    /// <summary>Opaque RGBA of <paramref name="image"/>.</summary>
    internal static byte[] ToRgba(RgbImage image)
    {
        var rgba = new byte[image.Width * image.Height * 4];
        for (int i = 0; i < image.Width * image.Height; i++)
        {
            rgba[4 * i] = image.Rgb[3 * i];
            rgba[4 * i + 1] = image.Rgb[3 * i + 1];
            rgba[4 * i + 2] = image.Rgb[3 * i + 2];
            rgba[4 * i + 3] = 255;
        }
        return rgba;
    }
}

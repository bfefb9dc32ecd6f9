using SkiaSharp;

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// Decodes PNG, JPEG, WebP and GIF (its first frame) with SkiaSharp into RGB, compositing transparency over white as
/// Meta's preprocessing does (spec §5.1 step 1). The size is read from the header and checked against a pixel limit
/// before anything is decoded; damaged or foreign bytes give an <see cref="InvalidDataException"/> naming the problem, never a crash.
/// </summary>
public static class ImageDecoder
{
    /// <summary>The formats decoded.</summary>
    public static IReadOnlyList<string> Formats { get; } = ["PNG", "JPEG", "WebP", "GIF"];

    public static RgbImage Decode(ReadOnlySpan<byte> encoded, long maxPixels)
    {
        if (encoded.IsEmpty) throw new InvalidDataException("the image is empty (0 bytes)");
        using var data = SKData.CreateCopy(encoded);
        using var stream = new SKMemoryStream(data);
        using var codec = SKCodec.Create(stream, out var result);
        if (codec is null)
            throw new InvalidDataException($"cannot decode the image: it is not a PNG, JPEG, WebP or GIF file ({Describe(result)})");
        string format = codec.EncodedFormat switch
        {
            SKEncodedImageFormat.Png => "PNG",
            SKEncodedImageFormat.Jpeg => "JPEG",
            SKEncodedImageFormat.Webp => "WebP",
            SKEncodedImageFormat.Gif => "GIF",
            var other => throw new InvalidDataException($"cannot decode the image: {other} images are not taken (PNG, JPEG, WebP or GIF)"),
        };
        int width = codec.Info.Width, height = codec.Info.Height;
        long pixels = (long)width * height;
        if (width <= 0 || height <= 0) throw new InvalidDataException($"the {format} image has no pixels ({width}×{height})");
        if (pixels > maxPixels)
            throw new InvalidDataException($"the {format} image is {width}×{height} = {pixels} pixels, more than the limit of {maxPixels}");

        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var rgba = new byte[info.BytesSize];
        SKCodecResult decoded;
        unsafe
        {
            fixed (byte* p = rgba)
            {
                decoded = codec.GetPixels(info, (IntPtr)p, new SKCodecOptions(0)); // frame 0: a GIF's first frame
            }
        }

        // A truncated or damaged file is refused (as PIL does by default) rather than read in part.
        if (decoded != SKCodecResult.Success)
            throw new InvalidDataException($"cannot decode the {format} image ({Describe(decoded)})");
        return new RgbImage(width, height, OverWhite(rgba, pixels));
    }

    /// <summary>Straight (unpremultiplied) RGBA over white, rounded to the nearest byte.</summary>
    private static byte[] OverWhite(byte[] rgba, long pixels)
    {
        var rgb = new byte[pixels * 3];
        for (long i = 0; i < pixels; i++)
        {
            int a = rgba[4 * i + 3];
            for (int c = 0; c < 3; c++)
            {
                int v = rgba[4 * i + c];
                rgb[3 * i + c] = a == 255 ? (byte)v : (byte)((v * a + 255 * (255 - a) + 127) / 255);
            }
        }

        return rgb;
    }

    private static string Describe(SKCodecResult result) => result switch
    {
        SKCodecResult.Unimplemented => "an unsupported format",
        SKCodecResult.InvalidInput or SKCodecResult.ErrorInInput => "damaged data",
        SKCodecResult.IncompleteInput => "the data ends early",
        _ => result.ToString(),
    };
}

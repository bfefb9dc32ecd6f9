using System.Buffers;
using SkiaSharp;

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// Decodes PNG, JPEG, WebP and GIF (first frame) bytes into an <see cref="RgbImage"/> with Skia, compositing any alpha over
/// white as META's <c>pil_RGBA2RGB</c> does (spec §5.1 step 1). Untrusted input is the normal case: the dimensions are read
/// from the header and checked against a pixel limit before any pixel buffer is allocated, and every way the bytes can be
/// wrong ends in <see cref="InvalidImageException"/>.
/// </summary>
/// <remarks>
/// Like PIL in the references, no colour management (ICC profiles are ignored: the target has no colour space) and no EXIF
/// orientation is applied; 16-bit and greyscale sources are converted to 8-bit RGB by Skia.
/// </remarks>
public static class ImageDecoder
{
    /// <summary>
    /// The default pixel limit, 2²⁵ (e.g. 8192 × 4096). Decoding takes 4 bytes a pixel (RGBA) plus 3 for the result, so
    /// this bounds one decode at about 224 MiB; a 16-tile canvas is only 1344² ≈ 1.8 M pixels, so anything larger is
    /// downscaled anyway.
    /// </summary>
    public const long DefaultMaxPixels = 1L << 25;

    private const string NotAnImage = "not an image PNG/JPEG/WebP/GIF can decode";

    /// <summary>
    /// Reads the format and dimensions from the header only. Throws <see cref="InvalidImageException"/> when
    /// <paramref name="encoded"/> is empty or not one of the accepted formats.
    /// </summary>
    public static ImageHeader ReadHeader(ReadOnlySpan<byte> encoded)
    {
        using var codec = OpenCodec(encoded, out var format);
        var info = codec.Info;
        return new ImageHeader(format, info.Width, info.Height);
    }

    /// <summary>
    /// Decodes <paramref name="encoded"/> (the first frame of an animation) into 8-bit RGB, alpha composited over white.
    /// Throws <see cref="InvalidImageException"/> when the bytes are empty, not PNG/JPEG/WebP/GIF, truncated or corrupt, or
    /// when the header announces more than <paramref name="maxPixels"/> pixels (checked before decoding).
    /// </summary>
    public static RgbImage Decode(ReadOnlySpan<byte> encoded, long maxPixels = DefaultMaxPixels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxPixels);
        using var codec = OpenCodec(encoded, out var format);
        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0)
            throw new InvalidImageException($"the {format} header gives an empty image ({width}×{height})");
        long pixels = (long)width * height;
        if (pixels > maxPixels)
            throw new InvalidImageException($"image is {width}×{height} = {pixels} pixels, more than the limit {maxPixels}");
        if (pixels * 4 > Array.MaxLength)
            throw new InvalidImageException($"image is {width}×{height} = {pixels} pixels, more than one decode buffer can hold");

        // Unpremultiplied RGBA, no colour space (no ICC conversion): the straight alpha the white composite needs.
        var info = new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        int rgbaLength = (int)(pixels * 4);
        byte[] rgba = ArrayPool<byte>.Shared.Rent(rgbaLength);
        try
        {
            SKCodecResult result;
            unsafe
            {
                fixed (byte* p = rgba)
                {
                    // Frame 0: the first frame of a GIF (or animated WebP), drawn on its own.
                    result = codec.GetPixels(info, (IntPtr)p, info.RowBytes, new SKCodecOptions(0));
                }
            }
            if (result != SKCodecResult.Success)
                throw new InvalidImageException($"the {format} data is truncated or corrupt ({result})");

            var rgb = GC.AllocateUninitializedArray<byte>((int)(pixels * 3));
            CompositeOverWhite(rgba.AsSpan(0, rgbaLength), rgb);
            return new RgbImage(width, height, rgb);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rgba);
        }
    }

    /// <summary>
    /// <c>out = round((c·a + 255·(255 − a)) / 255)</c> per channel, the integer blend PIL's <c>paste(image, mask=alpha)</c>
    /// onto a white canvas computes (its <c>DIV255</c> rounds half up); opaque pixels are copied unchanged.
    /// </summary>
    internal static void CompositeOverWhite(ReadOnlySpan<byte> rgba, Span<byte> rgb)
    {
        int n = rgba.Length / 4;
        for (int i = 0; i < n; i++)
        {
            int a = rgba[4 * i + 3];
            if (a == 255)
            {
                rgb[3 * i] = rgba[4 * i];
                rgb[3 * i + 1] = rgba[4 * i + 1];
                rgb[3 * i + 2] = rgba[4 * i + 2];
                continue;
            }
            int background = 255 * (255 - a);
            for (int c = 0; c < 3; c++)
            {
                int v = rgba[4 * i + c] * a + background + 128;
                rgb[3 * i + c] = (byte)(((v >> 8) + v) >> 8);
            }
        }
    }

    private static SKCodec OpenCodec(ReadOnlySpan<byte> encoded, out ImageFormat format)
    {
        if (encoded.IsEmpty)
            throw new InvalidImageException("the image is empty (0 bytes)");
        // The codec reads from a copy: Skia may read lazily during GetPixels, after a span could have moved.
        var data = SKData.CreateCopy(encoded);
        var stream = new SKMemoryStream(data);
        var codec = SKCodec.Create(stream, out var result);
        if (codec is null)
        {
            stream.Dispose();
            data.Dispose();
            throw new InvalidImageException($"{NotAnImage} ({encoded.Length} bytes; {result})");
        }
        // The codec owns the stream now; the SKData is referenced by the stream and released with it.
        data.Dispose();
        ImageFormat? known = codec.EncodedFormat switch
        {
            SKEncodedImageFormat.Png => ImageFormat.Png,
            SKEncodedImageFormat.Jpeg => ImageFormat.Jpeg,
            SKEncodedImageFormat.Webp => ImageFormat.WebP,
            SKEncodedImageFormat.Gif => ImageFormat.Gif,
            _ => null,
        };
        if (known is null)
        {
            var other = codec.EncodedFormat;
            codec.Dispose();
            throw new InvalidImageException($"{NotAnImage}: the bytes are {other}, which is not accepted");
        }
        format = known.Value;
        return codec;
    }
}

namespace Llama4Cluster.Core.Vision;

/// <summary>The encoded formats <see cref="ImageDecoder"/> accepts; anything else Skia could read (BMP, ICO, HEIF…) is refused.</summary>
public enum ImageFormat
{
    Png,
    Jpeg,
    WebP,
    Gif,
}

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// A decoded image as the preprocessor takes it: <paramref name="Width"/> × <paramref name="Height"/> pixels, row-major,
/// 3 bytes per pixel (R, G, B), no padding between rows, alpha already composited (spec §5.1 step 1). Equality is by
/// reference on <see cref="Rgb"/>, as for any record holding an array.
/// </summary>
public sealed record RgbImage(int Width, int Height, byte[] Rgb)
{
    /// <summary>Pixels per row.</summary>
    public int Width { get; } = Width > 0 ? Width : throw new ArgumentOutOfRangeException(nameof(Width), Width, "an image needs a positive width");

    /// <summary>Rows.</summary>
    public int Height { get; } = Height > 0 ? Height : throw new ArgumentOutOfRangeException(nameof(Height), Height, "an image needs a positive height");

    /// <summary><c>[Height, Width, 3]</c> bytes, R, G, B.</summary>
    public byte[] Rgb { get; } = Rgb is null
        ? throw new ArgumentNullException(nameof(Rgb))
        : Rgb.LongLength == 3L * Width * Height
            ? Rgb
            : throw new ArgumentException($"a {Width}×{Height} RGB image needs {3L * Width * Height} bytes; got {Rgb.LongLength}", nameof(Rgb));
}

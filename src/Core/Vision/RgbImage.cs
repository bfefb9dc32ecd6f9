namespace Llama4Cluster.Core.Vision;

/// <summary>A decoded image: <see cref="Height"/> rows of <see cref="Width"/> pixels, 3 bytes each (R, G, B), row-major.</summary>
public sealed class RgbImage
{
    public RgbImage(int width, int height, byte[] rgb)
    {
        ArgumentNullException.ThrowIfNull(rgb);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        if (rgb.LongLength != 3L * width * height)
            throw new ArgumentException($"a {width}×{height} RGB image has {3L * width * height} bytes; got {rgb.LongLength}", nameof(rgb));
        Width = width;
        Height = height;
        Rgb = rgb;
    }

    public int Width { get; }

    public int Height { get; }

    /// <summary>R, G, B of pixel (x, y) at <c>3 · (y · Width + x)</c>.</summary>
    public byte[] Rgb { get; }
}

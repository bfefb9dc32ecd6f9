namespace Llama4Cluster.Core.Vision;

/// <summary>
/// One image as the vision encoder takes it (spec §5.1): normalised tiles <c>[TileCount, 3, TileSize, TileSize]</c>, the
/// <see cref="Rows"/> × <see cref="Columns"/> canvas tiles row-major, then — when there is more than one — the global tile
/// (the whole image resized to one tile). <see cref="Rows"/> and <see cref="Columns"/> give the token layout (spec §5.4).
/// </summary>
public sealed class ImageTiles
{
    public ImageTiles(int tileSize, int rows, int columns, float[] pixels)
    {
        ArgumentNullException.ThrowIfNull(pixels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tileSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        TileSize = tileSize;
        Rows = rows;
        Columns = columns;
        long expected = (long)TileCount * 3 * tileSize * tileSize;
        if (pixels.LongLength != expected)
            throw new ArgumentException($"an image of {rows}×{columns} tiles of {tileSize} pixels needs {expected} values ({TileCount} tiles); got {pixels.LongLength}", nameof(pixels));
        Pixels = pixels;
    }

    private string? _contentHash;

    /// <summary>The side of a tile in pixels (the checkpoint's <c>vision_config.image_size</c>).</summary>
    public int TileSize { get; }

    /// <summary>Tile rows of the canvas.</summary>
    public int Rows { get; }

    /// <summary>Tile columns of the canvas.</summary>
    public int Columns { get; }

    /// <summary>Tiles the encoder runs: the canvas tiles, plus the global tile when there is more than one.</summary>
    public int TileCount => Rows * Columns + (Rows * Columns > 1 ? 1 : 0);

    /// <summary><c>[TileCount, 3, TileSize, TileSize]</c>, channel-major, normalised as spec §5.1 step 4.</summary>
    public float[] Pixels { get; }

    /// <summary>SHA-256 of the pixel values (hex): what a prefix cache keys the image's positions by. Computed on first use
    /// (about 0.6 ms per 336-pixel tile), so only where a prefix cache asks for it.</summary>
    public string ContentHash => _contentHash ??=
        Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Runtime.InteropServices.MemoryMarshal.AsBytes(Pixels.AsSpan())));
}

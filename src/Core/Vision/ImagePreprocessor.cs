using System.Buffers;

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// Turns an image into the normalised tiles the vision encoder takes (spec §5.1), as Hugging Face
/// <c>Llama4ImageProcessorFast</c> does: choose the canvas (<see cref="ImageCanvas.Plan"/>), resize without distortion with
/// torch's antialiased bilinear filter to 8 bits, pad bottom/right with 0, rescale by 1/255 and normalise
/// <c>(x − 0.5) / 0.5</c> (so padding is −1), split into tiles row-major, and — when there is more than one tile — append
/// the global tile: the original image resized (with distortion) to one tile.
/// </summary>
/// <remarks>
/// Normalisation is float32 (<c>(v / 255 − 0.5) / 0.5</c>, META's <c>ToTensor</c> + <c>Normalize</c>), where HF rounds to
/// bfloat16 after the rescale and after the normalise: HF's values are ours rounded to 8 significant bits, at most 2⁻⁸ away
/// (|x| ≤ 1). Only 256 values occur, so the step is a table lookup. Resizing is deterministic managed code (see
/// <see cref="AntialiasedBilinear"/>); rows run in parallel when an image is large enough for it to pay.
/// </remarks>
public static class ImagePreprocessor
{
    /// <summary>Output values below which a pass stays on the calling thread (a thread hop costs more than the work).</summary>
    private const int ParallelThreshold = 1 << 18;

    /// <summary>Rows one parallel work item resizes.</summary>
    private const int RowsPerBlock = 16;

    /// <summary><c>((float)v / 255 − 0.5) / 0.5</c> for every 8-bit value v, in float32 as torch computes it.</summary>
    private static readonly float[] Normalized = BuildNormalized();

    /// <summary>
    /// Preprocesses <paramref name="image"/> into tiles of <paramref name="tileSize"/> pixels (the checkpoint's
    /// <c>vision_config.image_size</c>), with a canvas of at most <paramref name="maxTiles"/> tiles (HF's
    /// <c>max_patches</c>, 16 for Scout and Maverick).
    /// </summary>
    public static ImageTiles Preprocess(RgbImage image, int tileSize, int maxTiles = 16)
    {
        ArgumentNullException.ThrowIfNull(image);
        var canvas = ImageCanvas.Plan(image.Height, image.Width, tileSize, maxTiles);
        long tileValues = 3L * tileSize * tileSize;
        long total = canvas.TileCount * tileValues;
        if (total > Array.MaxLength)
            throw new ArgumentOutOfRangeException(nameof(tileSize), $"{canvas.TileCount} tiles of {tileSize} pixels need {total} values, more than an array holds");

        var pixels = GC.AllocateUninitializedArray<float>((int)total);
        ResizeIntoTiles(image, canvas.ResizedHeight, canvas.ResizedWidth, pixels, 0, canvas.Rows, canvas.Columns, tileSize);
        if (canvas.Rows * canvas.Columns > 1)
            ResizeIntoTiles(image, tileSize, tileSize, pixels, canvas.Rows * canvas.Columns, 1, 1, tileSize);
        return new ImageTiles(tileSize, canvas.Rows, canvas.Columns, pixels);
    }

    /// <summary>
    /// Decodes <paramref name="encoded"/> (<see cref="ImageDecoder.Decode"/>, refusing more than <paramref name="maxPixels"/>
    /// pixels) and preprocesses it. Throws <see cref="InvalidImageException"/> for bytes that are not an acceptable image.
    /// </summary>
    public static ImageTiles Preprocess(ReadOnlySpan<byte> encoded, int tileSize, int maxTiles = 16, long maxPixels = ImageDecoder.DefaultMaxPixels) =>
        Preprocess(ImageDecoder.Decode(encoded, maxPixels), tileSize, maxTiles);

    /// <summary>
    /// Resizes <paramref name="image"/> to <paramref name="height"/> × <paramref name="width"/>, normalises it, and writes it
    /// onto a canvas of <paramref name="rows"/> × <paramref name="columns"/> tiles that starts at tile
    /// <paramref name="firstTile"/> of <paramref name="pixels"/> (<c>[tiles, 3, S, S]</c>); the rest of the canvas is padding.
    /// </summary>
    private static void ResizeIntoTiles(RgbImage image, int height, int width, float[] pixels, int firstTile, int rows, int columns, int tileSize)
    {
        var horizontal = AntialiasedBilinear.ComputeWeights(image.Width, width);
        var vertical = AntialiasedBilinear.ComputeWeights(image.Height, height);
        int rowLength = width * 3;
        bool parallel = (long)image.Height * rowLength >= ParallelThreshold;

        // Horizontal pass: every source row → width pixels, float32, interleaved RGB ([image.Height, width, 3]).
        float[] wide = ArrayPool<float>.Shared.Rent(image.Height * rowLength);
        try
        {
            int blocks = (image.Height + RowsPerBlock - 1) / RowsPerBlock;
            void Horizontal(int block)
            {
                int start = block * RowsPerBlock;
                AntialiasedBilinear.ResizeRows(image.Rgb, wide, horizontal, start, Math.Min(start + RowsPerBlock, image.Height));
            }
            if (parallel) Parallel.For(0, blocks, Horizontal);
            else for (int b = 0; b < blocks; b++) Horizontal(b);

            // Vertical pass, rounding and normalising straight into the tiles, a block of output rows at a time.
            int outBlocks = (height + RowsPerBlock - 1) / RowsPerBlock;
            void Vertical(int block)
            {
                float[] row = ArrayPool<float>.Shared.Rent(rowLength);
                try
                {
                    int end = Math.Min((block + 1) * RowsPerBlock, height);
                    for (int y = block * RowsPerBlock; y < end; y++)
                    {
                        AntialiasedBilinear.ResizeColumn(wide, row, vertical, y, rowLength);
                        WriteRow(row.AsSpan(0, rowLength), width, y, pixels, firstTile, columns, tileSize);
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(row);
                }
            }
            if (parallel) Parallel.For(0, outBlocks, Vertical);
            else for (int b = 0; b < outBlocks; b++) Vertical(b);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(wide);
        }

        Pad(pixels, firstTile, rows, columns, tileSize, height, width);
    }

    /// <summary>Rounds one resized row to 8 bits (half to even, as <c>round_()</c> then <c>uint8</c>) and scatters its
    /// normalised values into the tiles of canvas row <paramref name="y"/>.</summary>
    private static void WriteRow(ReadOnlySpan<float> row, int width, int y, float[] pixels, int firstTile, int columns, int tileSize)
    {
        int plane = tileSize * tileSize;
        int tileRow = y / tileSize, yy = y % tileSize;
        var lut = Normalized;
        for (int tx = 0; tx * tileSize < width; tx++)
        {
            int x0 = tx * tileSize, x1 = Math.Min(x0 + tileSize, width);
            int tileBase = (firstTile + tileRow * columns + tx) * 3 * plane + yy * tileSize;
            for (int c = 0; c < 3; c++)
            {
                var dst = pixels.AsSpan(tileBase + c * plane, x1 - x0);
                for (int x = x0; x < x1; x++)
                {
                    float v = MathF.Round(row[3 * x + c], MidpointRounding.ToEven);
                    dst[x - x0] = lut[v <= 0f ? 0 : v >= 255f ? 255 : (int)v];
                }
            }
        }
    }

    /// <summary>Fills what the resized image does not cover (bottom rows, right columns) with the normalised 0, i.e. −1.</summary>
    private static void Pad(float[] pixels, int firstTile, int rows, int columns, int tileSize, int height, int width)
    {
        int plane = tileSize * tileSize;
        float padding = Normalized[0];
        for (int ty = 0; ty < rows; ty++)
        {
            for (int tx = 0; tx < columns; tx++)
            {
                int validRows = Math.Clamp(height - ty * tileSize, 0, tileSize);
                int validColumns = Math.Clamp(width - tx * tileSize, 0, tileSize);
                if (validRows == tileSize && validColumns == tileSize) continue;
                int tileBase = (firstTile + ty * columns + tx) * 3 * plane;
                for (int c = 0; c < 3; c++)
                {
                    var channel = pixels.AsSpan(tileBase + c * plane, plane);
                    for (int yy = 0; yy < validRows; yy++)
                        channel.Slice(yy * tileSize + validColumns, tileSize - validColumns).Fill(padding);
                    channel[(validRows * tileSize)..].Fill(padding);
                }
            }
        }
    }

    private static float[] BuildNormalized()
    {
        var table = new float[256];
        for (int v = 0; v < 256; v++) table[v] = ((float)v / 255f - 0.5f) / 0.5f;
        return table;
    }
}

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// An image's tokens in the prompt (spec §5.4). One tile: <c>&lt;|image_start|&gt; &lt;|image|&gt; &lt;|patch|&gt;×T
/// &lt;|image_end|&gt;</c>. Several: <c>&lt;|image_start|&gt;</c>, then per tile row its tiles' <c>&lt;|patch|&gt;×T</c> with
/// <c>&lt;|tile_x_separator|&gt;</c> between the tiles of a row and <c>&lt;|tile_y_separator|&gt;</c> after every row, then
/// <c>&lt;|image|&gt; &lt;|patch|&gt;×T</c> for the global tile, then <c>&lt;|image_end|&gt;</c>. T is the vision tower's
/// tokens per tile (144 for 336-pixel tiles of 14-pixel patches).
/// </summary>
public static class ImageTokenLayout
{
    /// <summary>The tokens of <paramref name="image"/> with <paramref name="tokensPerTile"/> patch tokens per tile.</summary>
    public static int[] Tokens(ImageTiles image, int tokensPerTile, ImageTokenSet ids)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Tokens(image.Rows, image.Columns, tokensPerTile, ids);
    }

    /// <summary>The tokens of an image cut into <paramref name="rows"/> × <paramref name="columns"/> tiles.</summary>
    public static int[] Tokens(int rows, int columns, int tokensPerTile, ImageTokenSet ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokensPerTile);
        var tokens = new List<int>(Count(rows, columns, tokensPerTile)) { ids.ImageStart };
        if (rows * columns > 1)
        {
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < columns; c++)
                {
                    if (c > 0) tokens.Add(ids.TileXSeparator);
                    for (int t = 0; t < tokensPerTile; t++) tokens.Add(ids.Patch);
                }

                tokens.Add(ids.TileYSeparator);
            }
        }

        tokens.Add(ids.Image);
        for (int t = 0; t < tokensPerTile; t++) tokens.Add(ids.Patch);
        tokens.Add(ids.ImageEnd);
        return [.. tokens];
    }

    /// <summary>How many tokens <see cref="Tokens(int, int, int, ImageTokenSet)"/> gives.</summary>
    public static int Count(int rows, int columns, int tokensPerTile)
    {
        int tiles = rows * columns;
        if (tiles == 1) return tokensPerTile + 3;
        // start, tiles' patches, x separators (columns − 1 per row), y separators (one per row), image, global patches, end
        return 1 + tiles * tokensPerTile + rows * (columns - 1) + rows + 1 + tokensPerTile + 1;
    }

    /// <summary>The <c>&lt;|patch|&gt;</c> tokens in <paramref name="tokens"/>.</summary>
    public static int CountPatches(ReadOnlySpan<int> tokens, int patchId)
    {
        int n = 0;
        foreach (int t in tokens)
            if (t == patchId) n++;
        return n;
    }
}

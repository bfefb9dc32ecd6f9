namespace Llama4Cluster.Core.Vision;

/// <summary>
/// The special tokens that stand for one image in a prompt (spec §5.4; META <c>chat_format._encode_image</c>, HF
/// <c>processing_llama4._prompt_split_image</c>). The encoder's features later overwrite the <c>&lt;|patch|&gt;</c>
/// positions in order, so a prompt's patch count must equal the sum of its images' <see cref="PatchTokens"/>.
/// </summary>
public static class ImageTokenLayout
{
    /// <summary>
    /// The tokens of <paramref name="image"/> with <paramref name="tokensPerTile"/> <c>&lt;|patch|&gt;</c> per tile
    /// (<see cref="Config.Llama4VisionConfig.TokensPerTile"/>, 144 for Scout and Maverick).
    /// </summary>
    public static int[] Tokens(ImageTiles image, int tokensPerTile, ImageTokenSet ids)
    {
        ArgumentNullException.ThrowIfNull(image);
        return Tokens(image.Rows, image.Columns, tokensPerTile, ids);
    }

    /// <summary>
    /// The tokens of an image on a <paramref name="rows"/> × <paramref name="columns"/> canvas (from
    /// <see cref="ImageCanvas.Plan"/>, so a prompt can be laid out before its pixels are processed). One tile:
    /// <c>image_start, image, patch×T, image_end</c> (T + 3 tokens). Several: <c>image_start</c>, then per tile row its
    /// tiles' <c>patch×T</c> joined by <c>tile_x_separator</c> and followed by <c>tile_y_separator</c>, then
    /// <c>image, patch×T</c> for the global tile, then <c>image_end</c>.
    /// </summary>
    public static int[] Tokens(int rows, int columns, int tokensPerTile, ImageTokenSet ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(columns);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokensPerTile);

        var tokens = new int[TokenCount(rows, columns, tokensPerTile)];
        var span = tokens.AsSpan();
        int at = 0;
        span[at++] = ids.ImageStart;
        if (rows * columns > 1)
        {
            for (int y = 0; y < rows; y++)
            {
                for (int x = 0; x < columns; x++)
                {
                    span.Slice(at, tokensPerTile).Fill(ids.Patch);
                    at += tokensPerTile;
                    if (x < columns - 1) span[at++] = ids.TileXSeparator;
                }
                span[at++] = ids.TileYSeparator;
            }
        }
        span[at++] = ids.Image;
        span.Slice(at, tokensPerTile).Fill(ids.Patch);
        at += tokensPerTile;
        span[at++] = ids.ImageEnd;
        return tokens;
    }

    /// <summary>Length of <see cref="Tokens(int, int, int, ImageTokenSet)"/>: T + 3 for one tile, else
    /// <c>(R·C + 1)·T + R·C + 3</c> (R·(C − 1) x-separators, R y-separators, start, image, end).</summary>
    public static int TokenCount(int rows, int columns, int tokensPerTile)
    {
        int tiles = rows * columns;
        return tiles == 1 ? tokensPerTile + 3 : checked((tiles + 1) * tokensPerTile + tiles + 3);
    }

    /// <summary>The <c>&lt;|patch|&gt;</c> tokens of <paramref name="image"/>: <see cref="ImageTiles.TileCount"/> · T, the rows
    /// of features its encoding yields.</summary>
    public static int PatchTokens(ImageTiles image, int tokensPerTile)
    {
        ArgumentNullException.ThrowIfNull(image);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tokensPerTile);
        return checked(image.TileCount * tokensPerTile);
    }

    /// <summary>The <paramref name="patchId"/> tokens in <paramref name="tokens"/>: the feature rows a prompt expects.</summary>
    public static int CountPatches(ReadOnlySpan<int> tokens, int patchId) => tokens.Count(patchId);
}

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// Where an image goes on its tile canvas (spec §5.1 steps 2–3): <see cref="Rows"/> × <see cref="Columns"/> tiles, and the
/// aspect-preserving size the image is resized to before it is padded bottom/right to the canvas.
/// </summary>
/// <remarks>
/// Follows Hugging Face <c>Llama4ImageProcessorFast</c> (<c>get_best_fit</c> with <c>resize_to_max_canvas=False</c>, then
/// <c>get_max_res_without_distortion</c>) down to its arithmetic types: the canvas scales are float32 tensors, and in the
/// resize each target side is a float32 tensor when the canvas side is the smaller one (a downscaled side) and a Python
/// int (float64 arithmetic) otherwise. META's <c>preprocess.py</c> does the same steps in float64 throughout; the two can
/// differ by one pixel where a side's <c>floor</c> lands within rounding of an integer.
/// </remarks>
public readonly record struct ImageCanvas(int Rows, int Columns, int ResizedHeight, int ResizedWidth)
{
    /// <summary>Canvas tiles plus the global tile when there is more than one (what <see cref="ImageTiles.TileCount"/> will be).</summary>
    public int TileCount => Rows * Columns + (Rows * Columns > 1 ? 1 : 0);

    /// <summary>
    /// Chooses the canvas for a <paramref name="height"/> × <paramref name="width"/> image: among all tile grids of at most
    /// <paramref name="maxTiles"/> tiles, the one needing the smallest upscale ≥ 1, else the least downscale, ties to the
    /// smallest area; then the resize that fits the canvas without distortion, upscaling no side past
    /// <paramref name="tileSize"/> unless it already is larger.
    /// </summary>
    public static ImageCanvas Plan(int height, int width, int tileSize, int maxTiles = 16)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(tileSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxTiles);

        var (rows, columns) = BestFit(height, width, tileSize, SupportedGrids(maxTiles));
        int canvasHeight = rows * tileSize, canvasWidth = columns * tileSize;

        // Limit upscaling to the tile size: min(max(side, tile), canvas side). HF's min() returns the canvas side (a 0-d
        // tensor, so float32 arithmetic below) exactly when it is strictly the smaller.
        var targetHeight = new Side(Math.Min(Math.Max(height, tileSize), canvasHeight), canvasHeight < Math.Max(height, tileSize));
        var targetWidth = new Side(Math.Min(Math.Max(width, tileSize), canvasWidth), canvasWidth < Math.Max(width, tileSize));
        var (resizedHeight, resizedWidth) = MaxResolutionWithoutDistortion(height, width, targetHeight, targetWidth);
        return new ImageCanvas(rows, columns, Math.Max(resizedHeight, 1), Math.Max(resizedWidth, 1));
    }

    /// <summary>
    /// The tile grids (rows, columns) of at most <paramref name="maxTiles"/> tiles in HF's <c>find_supported_resolutions</c>
    /// order: grouped by aspect ratio in first-seen order, walking tile counts from the largest down and each count's
    /// factors upward. The order only matters for ties, which <see cref="BestFit"/> breaks by area exactly as
    /// <c>torch.argmin</c> (first minimum).
    /// </summary>
    internal static List<(int Rows, int Columns)> SupportedGrids(int maxTiles)
    {
        var byRatio = new Dictionary<double, List<(int, int)>>();
        var ratioOrder = new List<double>();
        for (int count = maxTiles; count >= 1; count--)
        {
            for (int factor = 1; factor <= count; factor++)
            {
                if (count % factor != 0) continue;
                int h = factor, w = count / factor;
                double ratio = (double)h / w;
                if (!byRatio.TryGetValue(ratio, out var list))
                {
                    byRatio[ratio] = list = [];
                    ratioOrder.Add(ratio);
                }
                list.Add((h, w));
            }
        }
        var grids = new List<(int, int)>();
        foreach (var ratio in ratioOrder) grids.AddRange(byRatio[ratio]);
        return grids;
    }

    private static (int Rows, int Columns) BestFit(int height, int width, int tileSize, List<(int Rows, int Columns)> grids)
    {
        // float32 like the tensors of get_best_fit: int64 canvas sides / Python int → float32 true division.
        Span<float> scales = grids.Count <= 256 ? stackalloc float[grids.Count] : new float[grids.Count];
        for (int i = 0; i < grids.Count; i++)
        {
            float scaleW = (float)(grids[i].Columns * tileSize) / width;
            float scaleH = (float)(grids[i].Rows * tileSize) / height;
            scales[i] = scaleH > scaleW ? scaleW : scaleH;
        }

        float selected = float.NaN;
        foreach (var s in scales)
            if (s >= 1 && !(s >= selected)) selected = s; // smallest upscale
        if (float.IsNaN(selected))
            foreach (var s in scales)
                if (!(s <= selected)) selected = s; // else the least downscale (all scales are < 1 here)

        int best = -1;
        long bestArea = long.MaxValue;
        for (int i = 0; i < grids.Count; i++)
        {
            if (scales[i] != selected) continue;
            long area = (long)grids[i].Rows * grids[i].Columns;
            if (area < bestArea) (best, bestArea) = (i, area);
        }
        return grids[best];
    }

    /// <summary>A target side: its value, and whether HF holds it as a float32 0-d tensor rather than a Python int.</summary>
    private readonly record struct Side(int Value, bool Float32);

    private static (int Height, int Width) MaxResolutionWithoutDistortion(int height, int width, Side targetHeight, Side targetWidth)
    {
        // scale = target / original: float32 when the target is a tensor, float64 when it is a Python int.
        double scaleW = targetWidth.Float32 ? (float)targetWidth.Value / width : (double)targetWidth.Value / width;
        double scaleH = targetHeight.Float32 ? (float)targetHeight.Value / height : (double)targetHeight.Value / height;
        // A comparison with a tensor on either side happens in float32 (the Python float is a wrapped scalar).
        bool widthLimits = targetWidth.Float32 || targetHeight.Float32 ? (float)scaleW < (float)scaleH : scaleW < scaleH;
        if (widthLimits)
        {
            int newHeight = targetWidth.Float32 ? (int)MathF.Floor(height * (float)scaleW) : (int)Math.Floor(height * scaleW);
            return (Math.Min(newHeight, targetHeight.Value), targetWidth.Value);
        }
        int newWidth = targetHeight.Float32 ? (int)MathF.Floor(width * (float)scaleH) : (int)Math.Floor(width * scaleH);
        return (targetHeight.Value, Math.Min(newWidth, targetWidth.Value));
    }
}

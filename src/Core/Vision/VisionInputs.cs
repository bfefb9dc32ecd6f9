namespace Llama4Cluster.Core.Vision;

/// <summary>
/// What a model with a vision tower takes as image input: tiles of <see cref="TileSize"/> pixels, each filling
/// <see cref="TokensPerTile"/> <c>&lt;|patch|&gt;</c> positions (<see cref="PatchTokenId"/>, <c>image_token_index</c>) of
/// the prompt (spec §5.4).
/// </summary>
public sealed record VisionInputs(int PatchTokenId, int TokensPerTile, int TileSize)
{
    /// <summary>
    /// What the checkpoint in <paramref name="modelDirectory"/> takes, from its <c>config.json</c>: null for a text-only
    /// checkpoint (no <c>vision_config</c>); <see cref="InvalidDataException"/> naming the file when a vision tower has no
    /// <c>image_token_index</c>.
    /// </summary>
    public static VisionInputs? FromModelDirectory(string modelDirectory)
    {
        if (Config.Llama4ConfigReader.LoadVision(modelDirectory) is not { } config) return null;
        var ids = Config.Llama4ConfigReader.LoadImageTokens(modelDirectory)
            ?? throw new InvalidDataException($"{Path.Combine(modelDirectory, "config.json")}: it has a vision_config but no image_token_index (the <|patch|> id)");
        return new VisionInputs(ids.Patch, config.TokensPerTile, config.ImageSize);
    }

    /// <summary>The <c>&lt;|patch|&gt;</c> positions <paramref name="images"/> fill: every tile of every image.</summary>
    public long PatchTokensOf(IEnumerable<ImageTiles> images) => images.Sum(i => (long)i.TileCount * TokensPerTile);

    /// <summary>
    /// Checks that <paramref name="images"/> fill the <c>&lt;|patch|&gt;</c> positions of <paramref name="tokens"/> exactly
    /// and have this model's tile size; throws <see cref="ArgumentException"/> naming both counts otherwise.
    /// </summary>
    public void Check(ReadOnlySpan<int> tokens, IReadOnlyList<ImageTiles> images)
    {
        int patches = 0;
        foreach (int t in tokens)
            if (t == PatchTokenId) patches++;
        for (int i = 0; i < images.Count; i++)
        {
            if (images[i].TileSize != TileSize)
                throw new ArgumentException($"image {i + 1} was cut into {images[i].TileSize}-pixel tiles; the model's vision tower takes {TileSize}-pixel tiles");
        }

        long expected = PatchTokensOf(images);
        if (patches != expected)
            throw new ArgumentException(
                $"the prompt has {patches} image patch tokens (<|patch|>, id {PatchTokenId}) but its {images.Count} image(s) have " +
                $"{images.Sum(i => i.TileCount)} tile(s) × {TokensPerTile} = {expected} patch features");
    }
}

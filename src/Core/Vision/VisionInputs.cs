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
    public static VisionInputs? FromModelDirectory(string modelDirectory) =>
        Config.Llama4ConfigReader.LoadVision(modelDirectory) is { } config ? Of(config, modelDirectory) : null;

    /// <summary>What the vision tower <paramref name="config"/> of the checkpoint in <paramref name="modelDirectory"/> takes
    /// (its <c>image_token_index</c> read from the same config.json).</summary>
    public static VisionInputs Of(Config.Llama4VisionConfig config, string modelDirectory)
    {
        var ids = Config.Llama4ConfigReader.LoadImageTokens(modelDirectory)
            ?? throw new InvalidDataException($"{Path.Combine(modelDirectory, "config.json")}: it has a vision_config but no image_token_index (the <|patch|> id)");
        return new VisionInputs(ids.Patch, config.TokensPerTile, config.ImageSize);
    }

    /// <summary>
    /// The one check of a prompt's images, for every path that takes them (the scheduler's submissions, the engines'
    /// logits): images need a model with a vision tower (<paramref name="vision"/> not null), and with one the images must
    /// fill the prompt's <c>&lt;|patch|&gt;</c> positions exactly (<see cref="Check"/>). A text-only model reads the patch id
    /// as any other token. Throws <see cref="ArgumentException"/>.
    /// </summary>
    public static void CheckPrompt(VisionInputs? vision, ReadOnlySpan<int> tokens, IReadOnlyList<ImageTiles>? images)
    {
        if (images is { Count: > 0 })
        {
            if (vision is null)
                throw new ArgumentException("the model has no vision tower (its config.json has no vision_config): it takes no images", nameof(images));
            vision.Check(tokens, images);
        }
        else if (vision is not null && tokens.Contains(vision.PatchTokenId))
        {
            vision.Check(tokens, []);
        }
    }

    /// <summary>The <c>&lt;|patch|&gt;</c> positions <paramref name="images"/> fill: every tile of every image.</summary>
    public long PatchTokensOf(IEnumerable<ImageTiles> images) => images.Sum(i => (long)i.TileCount * TokensPerTile);

    /// <summary>
    /// Checks that <paramref name="images"/> fill the <c>&lt;|patch|&gt;</c> positions of <paramref name="tokens"/> exactly
    /// and have this model's tile size; throws <see cref="ArgumentException"/> naming both counts otherwise.
    /// </summary>
    public void Check(ReadOnlySpan<int> tokens, IReadOnlyList<ImageTiles> images)
    {
        int patches = ImageTokenLayout.CountPatches(tokens, PatchTokenId);
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

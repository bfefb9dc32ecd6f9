using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// The special ids of the image token layout (spec §5.4): <c>&lt;|image_start|&gt;</c>, <c>&lt;|image_end|&gt;</c>,
/// <c>&lt;|image|&gt;</c>, <c>&lt;|patch|&gt;</c> (the feature slot; <c>image_token_index</c> in config.json) and the tile
/// separators.
/// </summary>
public sealed record ImageTokenSet(int ImageStart, int ImageEnd, int Image, int Patch, int TileXSeparator, int TileYSeparator)
{
    /// <summary>The ids as <paramref name="tokenizer"/> has them; <see cref="ArgumentException"/> naming the first one it lacks.</summary>
    public static ImageTokenSet FromTokenizer(Llama4Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        int Id(string token) => tokenizer.TryGetSpecialTokenId(token)
            ?? throw new ArgumentException($"the tokenizer ({tokenizer.Source}) has no {token} token, which the image token layout needs", nameof(tokenizer));
        return new ImageTokenSet(Id(Llama4SpecialTokens.ImageStart), Id(Llama4SpecialTokens.ImageEnd), Id(Llama4SpecialTokens.Image),
            Id(Llama4SpecialTokens.Patch), Id(Llama4SpecialTokens.TileXSeparator), Id(Llama4SpecialTokens.TileYSeparator));
    }
}

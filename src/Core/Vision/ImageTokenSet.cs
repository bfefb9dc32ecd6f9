using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Vision;

/// <summary>
/// The special ids of the image token layout (spec §5.4): <c>&lt;|image_start|&gt;</c>, <c>&lt;|image_end|&gt;</c>,
/// <c>&lt;|image|&gt;</c>, <c>&lt;|patch|&gt;</c> (the feature slot; <c>image_token_index</c> in config.json) and the tile
/// separators.
/// </summary>
public sealed record ImageTokenSet(int ImageStart, int ImageEnd, int Image, int Patch, int TileXSeparator, int TileYSeparator)
{
    /// <summary>
    /// The image ids of <paramref name="tokenizer"/>, looked up by their <see cref="Llama4SpecialTokens"/> names. Throws
    /// <see cref="ArgumentException"/> naming every missing token when the tokenizer lacks one (a text-only or
    /// foreign tokenizer cannot lay out images).
    /// </summary>
    public static ImageTokenSet FromTokenizer(Llama4Tokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var missing = new List<string>();
        int Id(string name)
        {
            if (tokenizer.TryGetSpecialTokenId(name) is { } id) return id;
            missing.Add(name);
            return -1;
        }
        var set = new ImageTokenSet(
            Id(Llama4SpecialTokens.ImageStart), Id(Llama4SpecialTokens.ImageEnd), Id(Llama4SpecialTokens.Image),
            Id(Llama4SpecialTokens.Patch), Id(Llama4SpecialTokens.TileXSeparator), Id(Llama4SpecialTokens.TileYSeparator));
        if (missing.Count > 0)
            throw new ArgumentException(
                $"the tokenizer from {tokenizer.Source} has no {string.Join(", ", missing)}: it cannot lay out images " +
                "(use the checkpoint's own Llama 4 tokenizer, which has all the image special tokens)");
        return set;
    }
}

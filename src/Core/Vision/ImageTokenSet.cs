namespace Llama4Cluster.Core.Vision;

/// <summary>
/// The special ids of the image token layout (spec §5.4): <c>&lt;|image_start|&gt;</c>, <c>&lt;|image_end|&gt;</c>,
/// <c>&lt;|image|&gt;</c>, <c>&lt;|patch|&gt;</c> (the feature slot; <c>image_token_index</c> in config.json) and the tile
/// separators.
/// </summary>
public sealed record ImageTokenSet(int ImageStart, int ImageEnd, int Image, int Patch, int TileXSeparator, int TileYSeparator);

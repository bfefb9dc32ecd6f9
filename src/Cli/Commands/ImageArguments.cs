using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Vision;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// <c>--image FILE</c> (repeatable, in prompt order) for <c>logits</c> and <c>generate</c>: the files decoded and cut into
/// tiles of the checkpoint's <c>vision_config.image_size</c> (spec §5.1), and the prompt's image tokens. With
/// <c>--tokens</c> the ids already hold the image token layout (spec §5.4); with <c>--prompt</c>, <c>&lt;|image|&gt;</c> in
/// the text marks where each image goes and is replaced by its layout. Problems are usage errors (exit 2) that name the
/// file or both counts.
/// </summary>
internal sealed class ImageArguments
{
    /// <summary>The option: repeatable, one file per image.</summary>
    public static readonly CommandLineOption Option =
        new("image", "FILE", "an image (PNG, JPEG, WebP, GIF) for a model with a vision tower; once per image, in prompt order", Repeatable: true);

    /// <summary>The marker of an image's place in <c>--prompt</c> text.</summary>
    public const string Marker = "<|image|>";

    /// <summary>Most tiles an image is cut into (HF's <c>max_patches</c> default).</summary>
    public const int MaxTiles = 16;

    /// <summary>Largest decoded image, in pixels (a guard against decompression bombs).</summary>
    public const long MaxPixels = 100_000_000;

    private ImageArguments(IReadOnlyList<ImageTiles> images, VisionInputs? vision)
    {
        Images = images;
        Vision = vision;
    }

    /// <summary>The images, preprocessed, in command-line order (empty without <c>--image</c>).</summary>
    public IReadOnlyList<ImageTiles> Images { get; }

    /// <summary>What the checkpoint's vision tower takes; null for a text-only checkpoint.</summary>
    public VisionInputs? Vision { get; }

    /// <summary>Reads every <c>--image</c> and preprocesses it for the checkpoint in <paramref name="modelDirectory"/>.</summary>
    public static ImageArguments Parse(Arguments a, string modelDirectory)
    {
        var files = a.All("image");
        VisionInputs? vision;
        try
        {
            vision = VisionInputs.FromModelDirectory(modelDirectory);
        }
        catch (InvalidDataException) when (files.Count == 0)
        {
            vision = null; // a broken vision_config matters only to image prompts; loading reports it otherwise
        }

        if (files.Count == 0) return new ImageArguments([], vision);
        if (vision is null)
            throw new UsageException($"--image: the model in '{modelDirectory}' has no vision tower (its config.json has no vision_config)");
        var images = new List<ImageTiles>(files.Count);
        foreach (string file in files)
        {
            if (!File.Exists(file)) throw new UsageException($"--image: file '{file}' does not exist");
            try
            {
                images.Add(ImagePreprocessor.Preprocess(File.ReadAllBytes(file), vision.TileSize, MaxTiles, MaxPixels));
            }
            catch (InvalidImageException e)
            {
                throw new UsageException($"--image {file}: {e.Message}");
            }
        }

        return new ImageArguments(images, vision);
    }

    /// <summary>Checks <c>--tokens</c> against the images: as many <c>&lt;|patch|&gt;</c> ids as the images have features.</summary>
    public void CheckTokens(int[] tokens)
    {
        if (Vision is null) return;
        try
        {
            Vision.Check(tokens, Images);
        }
        catch (ArgumentException e)
        {
            throw new UsageException("--tokens: " + e.Message);
        }
    }

    /// <summary>
    /// The ids of <c>--prompt</c> <paramref name="prompt"/>: a chat turn (<paramref name="chat"/>) or BOS + the text, each
    /// <c>&lt;|image|&gt;</c> replaced by the next image's token layout.
    /// </summary>
    public IReadOnlyList<int> EncodePrompt(Llama4Tokenizer tokenizer, string prompt, bool chat)
    {
        // Without images the text is plain text, a literal <|image|> included (META encodes user text so).
        if (Images.Count == 0)
            return chat ? ChatTemplate.Encode(tokenizer, [new ChatMessage("user", prompt)]) : [tokenizer.BeginOfText, .. tokenizer.Encode(prompt)];
        var parts = prompt.Split(Marker);
        int markers = parts.Length - 1;
        if (markers != Images.Count)
            throw new UsageException($"--prompt has {markers} {Marker} marker(s) but {Images.Count} --image file(s) were given; put one {Marker} where each image goes");

        var ids = ImageTokenSet.FromTokenizer(tokenizer);
        IReadOnlyList<int> Layout(int i) => ImageTokenLayout.Tokens(Images[i], Vision!.TokensPerTile, ids);
        if (chat)
        {
            var offsets = new List<int>();
            int at = 0;
            for (int i = 0; i < markers; i++)
            {
                at += parts[i].Length;
                offsets.Add(at);
            }

            return ChatTemplate.Encode(tokenizer, [new ChatMessage("user", string.Concat(parts)) { ImageOffsets = offsets }], imageTokens: Layout);
        }

        var tokens = new List<int> { tokenizer.BeginOfText };
        for (int i = 0; i < parts.Length; i++)
        {
            if (parts[i].Length > 0) tokens.AddRange(tokenizer.Encode(parts[i]));
            if (i < markers) tokens.AddRange(Layout(i));
        }

        return tokens;
    }
}

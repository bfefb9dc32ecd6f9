namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// Llama 4 special-token strings and META's full list (spec §4.1; llama-models <c>models/llama4/tokenizer.py</c>).
/// With the real <c>tokenizer.model</c> (200,000 ranks) the list occupies ids 200000 … 202047.
/// </summary>
public static class Llama4SpecialTokens
{
    public const string BeginOfText = "<|begin_of_text|>";
    public const string EndOfText = "<|end_of_text|>";
    public const string FimPrefix = "<|fim_prefix|>";
    public const string FimMiddle = "<|fim_middle|>";
    public const string FimSuffix = "<|fim_suffix|>";
    public const string HeaderStart = "<|header_start|>";
    public const string HeaderEnd = "<|header_end|>";
    public const string EndOfMessage = "<|eom|>";
    public const string EndOfTurn = "<|eot|>";
    public const string Step = "<|step|>";
    public const string PythonStart = "<|python_start|>";
    public const string PythonEnd = "<|python_end|>";
    public const string FinetuneRightPad = "<|finetune_right_pad|>";
    public const string ImageStart = "<|image_start|>";
    public const string ImageEnd = "<|image_end|>";
    public const string TileXSeparator = "<|tile_x_separator|>";
    public const string TileYSeparator = "<|tile_y_separator|>";
    public const string Image = "<|image|>";
    public const string Patch = "<|patch|>";

    /// <summary>Number of ids META reserves for special tokens after the base ranks.</summary>
    public const int ReservedCount = 2048;

    /// <summary>The 2048 special tokens in id order (index i has id <c>baseRanks + i</c>).</summary>
    public static IReadOnlyList<string> MetaList { get; } = BuildMetaList();

    /// <summary>
    /// The named tokens the engine uses (chat format, stops, padding, images), in the relative order of the real
    /// file. The tiny test tokenizer writes exactly these.
    /// </summary>
    public static IReadOnlyList<string> Essential { get; } =
    [
        BeginOfText, EndOfText, FimPrefix, FimMiddle, FimSuffix, HeaderStart, HeaderEnd, EndOfMessage, EndOfTurn,
        Step, PythonStart, PythonEnd, FinetuneRightPad, ImageStart, ImageEnd, TileXSeparator, TileYSeparator, Image,
        Patch,
    ];

    private static List<string> BuildMetaList()
    {
        var list = new List<string> { BeginOfText, EndOfText, FimPrefix, FimMiddle, FimSuffix };

        // 200005 … 200079: text post-train.
        list.AddRange([HeaderStart, HeaderEnd, EndOfMessage, EndOfTurn, Step]);
        list.AddRange(Reserved("text_post_train", 6, 0));
        list.AddRange([PythonStart, PythonEnd, FinetuneRightPad]);
        list.AddRange(Reserved("text_post_train", 61, 8));

        // 200080 … 201133: vision.
        list.AddRange([ImageStart, ImageEnd]);
        list.AddRange(Reserved("vision", 2, 0));
        list.AddRange([TileXSeparator, TileYSeparator]);
        list.AddRange(Reserved("vision", 4, 2));
        list.Add(Image);
        list.AddRange(Reserved("vision", 1, 6));
        list.Add(Patch);
        list.AddRange(Reserved("vision", 1041, 7));

        // 201134 … 201143: reasoning.
        list.AddRange(Reserved("reasoning", 8, 0));
        list.AddRange(["<|reasoning_thinking_start|>", "<|reasoning_thinking_end|>"]);

        // The rest up to 2048: generic reserved tokens.
        var generic = ReservedCount - list.Count;
        for (var i = 0; i < generic; i++)
        {
            list.Add($"<|reserved_special_token_{i}|>");
        }

        return list;
    }

    private static IEnumerable<string> Reserved(string name, int count, int start)
    {
        for (var i = start; i < start + count; i++)
        {
            yield return $"<|{name}_reserved_special_token_{i}|>";
        }
    }
}

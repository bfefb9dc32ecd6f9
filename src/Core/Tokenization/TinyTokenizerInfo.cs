namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// Ids of a tokenizer written by <see cref="TinyTokenizerWriter"/>, for <c>config.json</c>: <c>bos_token_id</c>,
/// <c>eos_token_id</c> (list: end_of_text, eom, eot), <c>pad_token_id</c>, <c>boi_token_index</c>,
/// <c>eoi_token_index</c> and <c>image_token_index</c> (the <c>&lt;|patch|&gt;</c> id).
/// </summary>
public sealed record TinyTokenizerInfo(
    int BeginOfText,
    int EndOfText,
    IReadOnlyList<int> EosTokenIds,
    int Pad,
    int ImageStart,
    int ImageEnd,
    int Patch);

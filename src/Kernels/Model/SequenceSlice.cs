using static TorchSharp.torch;

namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// One sequence's part of a batched step: its new tokens (a prefill chunk or one decode token),
/// its cache, and which logits the caller wants. Positions are per sequence: the first new token
/// sits at <c>Cache.Length</c>. <see cref="Image"/> carries image features that replace the embeddings of some of the
/// tokens (spec §5.4).
/// </summary>
public sealed record SequenceSlice(KvCache Cache, IReadOnlyList<int> Tokens, LogitsRequest Logits = LogitsRequest.Last)
{
    /// <summary>Image features for this slice's <c>&lt;|patch|&gt;</c> tokens, or null.</summary>
    public SliceImageFeatures? Image { get; init; }
}

/// <summary>
/// Rows that replace the token embeddings at <see cref="Offsets"/> (positions within the slice, ascending): row i of
/// <see cref="Rows"/> <c>[Offsets.Length, D]</c> goes to <c>Offsets[i]</c>. The rows belong to the caller.
/// </summary>
public sealed record SliceImageFeatures(int[] Offsets, Tensor Rows);

/// <summary>Which positions of a slice produce logits.</summary>
public enum LogitsRequest
{
    None,
    Last,
    All,
}

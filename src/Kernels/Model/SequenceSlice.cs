namespace Llama4Cluster.Kernels.Model;

/// <summary>
/// One sequence's part of a batched step: its new tokens (a prefill chunk or one decode token),
/// its cache, and which logits the caller wants. Positions are per sequence: the first new token
/// sits at <c>Cache.Length</c>.
/// </summary>
public sealed record SequenceSlice(KvCache Cache, IReadOnlyList<int> Tokens, LogitsRequest Logits = LogitsRequest.Last);

/// <summary>Which positions of a slice produce logits.</summary>
public enum LogitsRequest
{
    None,
    Last,
    All,
}

using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>One chat message. Roles: system, user, assistant, ipython (tool results; "tool" is accepted as ipython).</summary>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The calls an assistant turn made (rendered after its content); empty for any other turn.</summary>
    public IReadOnlyList<ToolCall> ToolCalls { get; init; } = [];

    /// <summary>
    /// Where images sit in <see cref="Content"/> (user messages only): character offsets, ascending (equal offsets are
    /// images side by side). Each renders as <c>&lt;|image|&gt;</c> as in HF's template and is encoded as its token layout
    /// (spec §5.4); the prompt's images are numbered in message order, then offset order.
    /// </summary>
    public IReadOnlyList<int> ImageOffsets { get; init; } = [];
}

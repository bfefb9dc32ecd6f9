using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>One chat message. Roles: system, user, assistant, ipython (tool results; "tool" is accepted as ipython).</summary>
public sealed record ChatMessage(string Role, string Content)
{
    /// <summary>The calls an assistant turn made (rendered after its content); empty for any other turn.</summary>
    public IReadOnlyList<ToolCall> ToolCalls { get; init; } = [];
}

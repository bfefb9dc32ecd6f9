using Llama4Cluster.Core.Tokenization;
using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Gateway.Api;

/// <summary>A chat request's tool fields, read and checked: <c>tools</c>, <c>tool_choice</c>, <c>parallel_tool_calls</c>
/// and the template's <c>tools_in_user_message</c> (<c>chat_template_kwargs</c>).</summary>
/// <param name="Guidance">For <c>required</c> or a named function, the call's JSON schema that guided decoding enforces.</param>
internal sealed record ChatToolRequest(IReadOnlyList<ToolDefinition> Tools, ToolChoice Choice, bool Parallel, bool InUserMessage,
    Llama4Cluster.Core.Guidance.GuidanceSpec? Guidance = null)
{
    /// <summary>What the prompt lists: the tools whenever there are some, even with <c>tool_choice: "none"</c> (vLLM's
    /// default), or null.</summary>
    public ChatTools? Prompt => Tools.Count > 0 ? new ChatTools(Tools, InUserMessage) : null;

    /// <summary>How answers are read: for calls unless <c>tool_choice</c> is <c>none</c>, or null (plain content).</summary>
    public ToolParsing? Parsing => Tools.Count > 0 && Choice.Mode != ToolChoiceMode.None
        ? new ToolParsing([.. Tools.Select(t => t.Name)], Parallel)
        : null;
}

using Llama4Cluster.Core.Tools;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>The functions a chat prompt offers the model, and where the template lists them.</summary>
/// <param name="Tools">The functions, in the request's order.</param>
/// <param name="InUserMessage">The template's <c>tools_in_user_message</c> (default true): the list goes into the first
/// user message; false puts it into the system message.</param>
public sealed record ChatTools(IReadOnlyList<ToolDefinition> Tools, bool InUserMessage = true);

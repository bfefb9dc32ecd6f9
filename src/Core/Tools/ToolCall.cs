namespace Llama4Cluster.Core.Tools;

/// <summary>A call an earlier assistant turn made (<c>messages[].tool_calls[]</c>), or one an answer makes.</summary>
/// <param name="Id">The call's id (<c>call_…</c>); the chat format does not show it.</param>
/// <param name="Name">The function's name.</param>
/// <param name="ArgumentsJson">The arguments as a JSON value, in <see cref="PythonJson"/>'s compact form.</param>
public sealed record ToolCall(string Id, string Name, string ArgumentsJson);

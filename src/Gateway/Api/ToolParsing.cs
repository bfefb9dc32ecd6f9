namespace Llama4Cluster.Gateway.Api;

/// <summary>How a chat request's answers are read for tool calls: the functions a call may name, and whether an answer
/// may make several calls (<c>parallel_tool_calls</c>).</summary>
internal sealed record ToolParsing(IReadOnlyList<string> Names, bool Parallel);

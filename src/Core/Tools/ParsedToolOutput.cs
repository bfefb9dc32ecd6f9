namespace Llama4Cluster.Core.Tools;

/// <summary>An answer split into content (null when it only made calls) and its tool calls.</summary>
public sealed record ParsedToolOutput(string? Content, IReadOnlyList<ParsedToolCall> Calls);

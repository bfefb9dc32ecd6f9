namespace Llama4Cluster.Core.Tools;

/// <summary>What a piece of model output released: content text, and calls completed by it.</summary>
public readonly record struct ToolStreamOutput(string Content, IReadOnlyList<ParsedToolCall> Calls);

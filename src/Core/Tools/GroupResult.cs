namespace Llama4Cluster.Core.Tools;

/// <summary>What <see cref="ToolCallSyntax.Read"/> found at a position: its status, where the group ends (when
/// <see cref="Scan.Ok"/>), and its calls (none for a special token dropped from content).</summary>
internal readonly record struct GroupResult(Scan Status, int End, IReadOnlyList<ParsedToolCall> Calls);

namespace Llama4Cluster.Core.Tools;

/// <summary>Tool calls in a whole answer: <see cref="ToolCallStream"/> fed the answer at once.</summary>
public static class ToolCallParser
{
    /// <summary>The answer's content and calls. Content is null when the answer made calls and said nothing else;
    /// without calls it is the answer with special tokens' texts removed.</summary>
    public static ParsedToolOutput Parse(string text, IEnumerable<string> toolNames, int maxCalls = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(text);
        var stream = new ToolCallStream(toolNames, maxCalls);
        var first = stream.Add(text);
        var last = stream.Finish();
        var content = first.Content + last.Content;
        var calls = first.Calls.Concat(last.Calls).ToList();
        return new ParsedToolOutput(calls.Count > 0 && content.Length == 0 ? null : content, calls);
    }
}

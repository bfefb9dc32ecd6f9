using System.Text;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// Splits one generated answer, as it streams, into content and tool calls (<see cref="ToolCallSyntax"/> forms). Text
/// that cannot begin a call is released as content at once; from a <c>[</c>, <c>{</c> or <c>&lt;</c> that may begin one,
/// text is held until the group of calls completes (its calls are released whole, with their argument pieces) or turns
/// out not to be a call (then it is content). When the answer ends, a call still open is content: a malformed call never
/// fails the answer. Whitespace right before a call, and at the end of an answer that made calls, is dropped. Special
/// tokens' texts never reach content. <see cref="ToolCallParser.Parse"/> runs the same steps over a whole answer, so a
/// stream and a whole answer always agree. Not thread-safe.
/// </summary>
public sealed class ToolCallStream
{
    /// <summary>Held text longer than this is only read again when a closing character arrives (bounds the work of a long
    /// call to linear in practice; a shorter one is read at every piece, so prose is released promptly).</summary>
    private const int RereadEveryPieceUpTo = 1024;

    private readonly ToolCallSyntax _syntax;
    private readonly int _maxCalls;
    private readonly StringBuilder _pending = new();
    private string _heldWhitespace = string.Empty;
    private int _scanFrom;
    private bool _waiting;

    /// <param name="toolNames">The functions a call may name.</param>
    /// <param name="maxCalls">Calls beyond this many are parsed and dropped (<c>parallel_tool_calls: false</c> is 1).</param>
    public ToolCallStream(IEnumerable<string> toolNames, int maxCalls = int.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(toolNames);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCalls, 1);
        _syntax = new ToolCallSyntax(toolNames.ToHashSet(StringComparer.Ordinal));
        _maxCalls = maxCalls;
    }

    /// <summary>Calls released so far (at most maxCalls).</summary>
    public int CallCount { get; private set; }

    /// <summary>Adds the next piece of the answer.</summary>
    public ToolStreamOutput Add(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        _pending.Append(text);
        if (_waiting && _pending.Length > RereadEveryPieceUpTo && text.IndexOfAny(['}', ']', ')', '>', ';']) < 0)
        {
            return new ToolStreamOutput(string.Empty, []);
        }

        return Process(final: false);
    }

    /// <summary>The answer ended: whatever is still held is resolved (an open call becomes content).</summary>
    public ToolStreamOutput Finish()
    {
        var output = Process(final: true);
        var content = output.Content;
        if (CallCount == 0)
        {
            content += _heldWhitespace;
        }

        _heldWhitespace = string.Empty;
        return output with { Content = content };
    }

    private ToolStreamOutput Process(bool final)
    {
        var content = new StringBuilder();
        var calls = new List<ParsedToolCall>();
        var text = _pending.ToString();
        var consumed = 0;
        var scan = _scanFrom;
        _waiting = false;
        while (true)
        {
            var candidate = text.IndexOfAny(['[', '{', '<'], scan);
            if (candidate < 0)
            {
                Release(content, text[consumed..]);
                consumed = text.Length;
                scan = text.Length;
                break;
            }

            var group = _syntax.Read(text, candidate, final);
            if (group.Status == Scan.More)
            {
                Release(content, text[consumed..candidate]);
                consumed = candidate;
                scan = candidate;
                _waiting = true;
                break;
            }

            if (group.Status == Scan.Bad)
            {
                scan = candidate + 1; // that character is content; look for the next start
                continue;
            }

            Release(content, text[consumed..candidate]);
            if (group.Calls.Count > 0)
            {
                _heldWhitespace = string.Empty;
                foreach (var call in group.Calls)
                {
                    if (CallCount < _maxCalls)
                    {
                        calls.Add(call);
                        CallCount++;
                    }
                }
            }

            consumed = scan = group.End;
        }

        _pending.Remove(0, consumed);
        _scanFrom = scan - consumed;
        return new ToolStreamOutput(content.ToString(), calls);
    }

    /// <summary>Content, keeping any trailing whitespace back until something other than a call follows it.</summary>
    private void Release(StringBuilder content, string text)
    {
        if (text.Length == 0)
        {
            return;
        }

        var combined = _heldWhitespace + text;
        var kept = combined.TrimEnd();
        _heldWhitespace = combined[kept.Length..];
        content.Append(kept);
    }
}

using System.Text;
using System.Text.Json;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// The tool-call forms Llama 4 writes, read at one position of its output (docs/MODEL.md, "Tool calls"):
/// <list type="bullet">
/// <item>JSON: <c>{"name": "f", "parameters": {…}}</c> (or <c>"arguments"</c>, an object or a JSON string of one),
/// several joined by <c>;</c>, or a JSON list of them;</item>
/// <item>pythonic: <c>[f(a=1), g(b="x")]</c>, keyword arguments holding Python literals;</item>
/// <item>either form between <c>&lt;|python_start|&gt;</c> and an optional <c>&lt;|python_end|&gt;</c>, where a bare
/// <c>f(a=1)</c> also counts.</item>
/// </list>
/// A special token's text at the position is consumed without a call, so that it never reaches content. A call must name
/// one of the request's functions.
/// </summary>
internal sealed class ToolCallSyntax(IReadOnlySet<string> names)
{
    /// <summary>Special-token texts dropped from content: the ones the tiny and the real tokenizer name.</summary>
    private static readonly string[] Markers = [.. Llama4SpecialTokens.Essential];

    /// <summary>Reads the group of calls that starts at <paramref name="start"/> (a <c>[</c>, <c>{</c> or <c>&lt;</c>).</summary>
    public GroupResult Read(string text, int start, bool final)
    {
        var c = new TextCursor(text, start, final);
        var calls = new List<ParsedToolCall>();
        var status = c.Peek switch
        {
            '<' => Marker(c, calls),
            '[' => List(c, calls),
            '{' => JsonCalls(c, calls),
            _ => Scan.Bad,
        };
        return new GroupResult(status, c.Pos, status == Scan.Ok ? calls : []);
    }

    private Scan Marker(TextCursor c, List<ParsedToolCall> calls)
    {
        var start = c.Pos;
        if (c.Literal(Llama4SpecialTokens.PythonStart) == Scan.Ok)
        {
            var wrapped = Wrapped(c, calls);
            if (wrapped != Scan.Bad)
            {
                return wrapped;
            }

            // No call inside: drop the marker alone; what follows is read as content.
            calls.Clear();
            c.Pos = start + Llama4SpecialTokens.PythonStart.Length;
            return Scan.Ok;
        }

        c.Pos = start;
        var more = false;
        foreach (var marker in Markers)
        {
            var found = c.Literal(marker);
            if (found == Scan.Ok)
            {
                return Scan.Ok;
            }

            more |= found == Scan.More;
        }

        return more ? Scan.More : Scan.Bad;
    }

    private Scan Wrapped(TextCursor c, List<ParsedToolCall> calls)
    {
        c.SkipWhitespace();
        if (c.AtEnd)
        {
            return c.Eof();
        }

        var inner = c.Peek switch
        {
            '[' => List(c, calls),
            '{' => JsonCalls(c, calls),
            _ when PythonLiterals.IsNameStart(c.Peek) => PythonCall(c, calls),
            _ => Scan.Bad,
        };
        if (inner != Scan.Ok)
        {
            return inner;
        }

        var end = c.Pos;
        c.SkipWhitespace();
        if (c.AtEnd)
        {
            c.Pos = end;
            return c.Final ? Scan.Ok : Scan.More;
        }

        var close = c.Literal(Llama4SpecialTokens.PythonEnd);
        if (close == Scan.Bad)
        {
            c.Pos = end; // the end marker is optional: text may follow the call
        }

        return close == Scan.More ? Scan.More : Scan.Ok;
    }

    /// <summary><c>[</c> opens a pythonic list of calls or a JSON list of call objects.</summary>
    private Scan List(TextCursor c, List<ParsedToolCall> calls)
    {
        var open = c.Pos;
        c.Pos++;
        c.SkipWhitespace();
        if (c.AtEnd)
        {
            return c.Eof();
        }

        var json = c.Peek == '{';
        if (!json && !PythonLiterals.IsNameStart(c.Peek))
        {
            return Scan.Bad;
        }

        c.Pos = open + 1;
        while (true)
        {
            c.SkipWhitespace();
            var call = json ? JsonCall(c, calls) : PythonCall(c, calls);
            if (call != Scan.Ok)
            {
                return call;
            }

            c.SkipWhitespace();
            if (c.AtEnd)
            {
                return c.Eof();
            }

            if (c.Peek == ']')
            {
                c.Pos++;
                return Scan.Ok;
            }

            if (c.Peek != ',')
            {
                return Scan.Bad;
            }

            c.Pos++;
            c.SkipWhitespace();
            if (!json && c.Peek == ']')
            {
                c.Pos++;
                return Scan.Ok; // Python allows a trailing comma
            }
        }
    }

    /// <summary>JSON call objects joined by <c>;</c> (Llama 3.x's way of writing several). The group ends before a
    /// <c>;</c> that no call follows.</summary>
    private Scan JsonCalls(TextCursor c, List<ParsedToolCall> calls)
    {
        var first = JsonCall(c, calls);
        if (first != Scan.Ok)
        {
            return first;
        }

        while (true)
        {
            var end = c.Pos;
            c.SkipWhitespace();
            if (c.AtEnd || c.Peek != ';')
            {
                var undecided = c.AtEnd && !c.Final;
                c.Pos = end;
                return undecided ? Scan.More : Scan.Ok;
            }

            c.Pos++;
            c.SkipWhitespace();
            if (c.AtEnd)
            {
                c.Pos = end;
                return c.Final ? Scan.Ok : Scan.More;
            }

            var count = calls.Count;
            var next = c.Peek == '{' ? JsonCall(c, calls) : Scan.Bad;
            if (next == Scan.More)
            {
                return Scan.More;
            }

            if (next == Scan.Bad)
            {
                calls.RemoveRange(count, calls.Count - count);
                c.Pos = end;
                return Scan.Ok;
            }
        }
    }

    private Scan JsonCall(TextCursor c, List<ParsedToolCall> calls)
    {
        var start = c.Pos;
        if (c.Peek != '{')
        {
            return c.AtEnd ? c.Eof() : Scan.Bad;
        }

        var scanned = JsonValueScanner.Value(c);
        if (scanned != Scan.Ok)
        {
            return scanned;
        }

        var call = JsonCallReader.Read(c.Text.AsMemory(start, c.Pos - start), names);
        if (call is null)
        {
            return Scan.Bad;
        }

        calls.Add(call);
        return Scan.Ok;
    }

    /// <summary><c>name(kw=literal, …)</c>.</summary>
    private Scan PythonCall(TextCursor c, List<ParsedToolCall> calls)
    {
        var start = c.Pos;
        while (!c.AtEnd && (PythonLiterals.IsNamePart(c.Peek) || c.Peek is '-' or '.'))
        {
            c.Pos++;
        }

        if (c.Pos == start)
        {
            return c.AtEnd ? c.Eof() : Scan.Bad;
        }

        var name = c.Text[start..c.Pos];
        c.SkipWhitespace();
        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek != '(' || !names.Contains(name))
        {
            return Scan.Bad;
        }

        c.Pos++;
        var pieces = new List<string>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var arguments = KeywordArguments(c, pieces, keys);
        if (arguments != Scan.Ok)
        {
            return arguments;
        }

        if (pieces.Count == 0)
        {
            pieces.Add("{}");
        }
        else
        {
            pieces.Add("}");
        }

        calls.Add(new ParsedToolCall(name, pieces));
        return Scan.Ok;
    }

    private static Scan KeywordArguments(TextCursor c, List<string> pieces, HashSet<string> keys)
    {
        while (true)
        {
            var step = c.NextElement(')', first: pieces.Count == 0, out var closed);
            if (step != Scan.Ok || closed)
            {
                return step;
            }

            var argument = KeywordArgument(c, pieces.Count == 0, keys, out var piece);
            if (argument != Scan.Ok)
            {
                return argument;
            }

            pieces.Add(piece);
        }
    }

    private static Scan KeywordArgument(TextCursor c, bool first, HashSet<string> keys, out string piece)
    {
        piece = string.Empty;
        var start = c.Pos;
        if (!PythonLiterals.IsNameStart(c.Peek))
        {
            return Scan.Bad; // positional arguments have no name to pass on
        }

        while (!c.AtEnd && PythonLiterals.IsNamePart(c.Peek))
        {
            c.Pos++;
        }

        var key = c.Text[start..c.Pos];
        c.SkipWhitespace();
        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek != '=' || c.PeekAt(1) == '=' || !keys.Add(key))
        {
            return Scan.Bad; // not a keyword argument, a comparison, or a name given twice
        }

        c.Pos++;
        c.SkipWhitespace();
        var text = new StringBuilder(first ? "{" : ", ");
        PythonJson.AppendString(text, key);
        text.Append(": ");
        var value = PythonLiterals.Value(c, text);
        piece = text.ToString();
        return value;
    }
}

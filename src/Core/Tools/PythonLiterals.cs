using System.Text;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// Reads one Python literal of model output (the pythonic tool-call form, <c>f(a=1, b=[1, {"k": "x"}])</c>) and writes
/// it as JSON in <see cref="PythonJson"/>'s compact form: strings in either quote, triple-quoted, with the <c>r</c>/<c>u</c>
/// prefixes and Python's escapes; integers (also hex, octal, binary and with <c>_</c>) and floats; <c>True</c>,
/// <c>False</c>, <c>None</c> (and JSON's <c>true</c>, <c>false</c>, <c>null</c>, which models mix in); lists and tuples
/// as arrays; dicts as objects (number, boolean and None keys become strings, as <c>json.dumps</c> does; a repeated key
/// keeps its first place and last value). Anything else (names, calls, expressions, bytes, sets) is not a literal.
/// </summary>
internal static class PythonLiterals
{
    public static Scan Value(TextCursor c, StringBuilder json)
    {
        if (c.AtEnd)
        {
            return c.Eof();
        }

        var ch = c.Peek;
        return ch switch
        {
            '"' or '\'' => String(c, json, raw: false),
            '[' => List(c, json),
            '(' => Tuple(c, json),
            '{' => Dict(c, json),
            '-' or '+' or '.' => PythonNumbers.Read(c, json),
            _ when char.IsAsciiDigit(ch) => PythonNumbers.Read(c, json),
            _ when IsNameStart(ch) => NameOrString(c, json),
            _ => Scan.Bad,
        };
    }

    public static bool IsNameStart(char c) => char.IsLetter(c) || c == '_';

    public static bool IsNamePart(char c) => char.IsLetterOrDigit(c) || c == '_';

    private static Scan NameOrString(TextCursor c, StringBuilder json)
    {
        var start = c.Pos;
        while (!c.AtEnd && IsNamePart(c.Peek))
        {
            c.Pos++;
        }

        if (c.AtEnd)
        {
            return c.Eof();
        }

        var name = c.Text[start..c.Pos];
        if (c.Peek is '"' or '\'')
        {
            return name.ToLowerInvariant() switch
            {
                "r" => String(c, json, raw: true),
                "u" => String(c, json, raw: false),
                _ => Scan.Bad, // bytes, f-strings and other prefixes have no JSON value
            };
        }

        var literal = name switch
        {
            "True" or "true" => "true",
            "False" or "false" => "false",
            "None" or "null" => "null",
            _ => null,
        };
        if (literal is null)
        {
            return Scan.Bad;
        }

        json.Append(literal);
        return Scan.Ok;
    }

    private static Scan List(TextCursor c, StringBuilder json)
    {
        if (!c.Enter())
        {
            return Scan.Bad;
        }

        c.Pos++;
        json.Append('[');
        var items = Items(c, json, ']', first: null);
        json.Append(']');
        c.Leave();
        return items;
    }

    private static Scan Tuple(TextCursor c, StringBuilder json)
    {
        if (!c.Enter())
        {
            return Scan.Bad;
        }

        c.Pos++;
        c.SkipWhitespace();
        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek == ')')
        {
            c.Pos++;
            c.Leave();
            json.Append("[]");
            return Scan.Ok;
        }

        // (x) is x itself; (x,) and (x, y) are tuples.
        var first = new StringBuilder();
        var item = Value(c, first);
        if (item != Scan.Ok)
        {
            return item;
        }

        c.SkipWhitespace();
        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek == ')')
        {
            c.Pos++;
            c.Leave();
            json.Append(first);
            return Scan.Ok;
        }

        json.Append('[');
        var items = Items(c, json, ')', first);
        json.Append(']');
        c.Leave();
        return items;
    }

    /// <summary>Comma-separated values up to <paramref name="close"/>, a trailing comma allowed; <paramref name="first"/> is
    /// an item already read (the cursor then stands after it).</summary>
    private static Scan Items(TextCursor c, StringBuilder json, char close, StringBuilder? first)
    {
        var count = 0;
        if (first is not null)
        {
            json.Append(first);
            count = 1;
        }

        while (true)
        {
            var step = c.NextElement(close, first: count == 0, out var closed);
            if (step != Scan.Ok || closed)
            {
                return step;
            }

            if (count > 0)
            {
                json.Append(", ");
            }

            var item = Value(c, json);
            if (item != Scan.Ok)
            {
                return item;
            }

            count++;
        }
    }

    private static Scan Dict(TextCursor c, StringBuilder json)
    {
        if (!c.Enter())
        {
            return Scan.Bad;
        }

        c.Pos++;
        var entries = new List<(string Key, string Value)>();
        while (true)
        {
            var step = c.NextElement('}', first: entries.Count == 0, out var closed);
            if (step != Scan.Ok)
            {
                return step;
            }

            if (closed)
            {
                break;
            }

            var entry = Entry(c, out var key, out var value);
            if (entry != Scan.Ok)
            {
                return entry;
            }

            var at = entries.FindIndex(e => e.Key == key);
            if (at >= 0)
            {
                entries[at] = (key, value);
            }
            else
            {
                entries.Add((key, value));
            }
        }

        c.Leave();
        json.Append('{').AppendJoin(", ", entries.Select(e => $"{e.Key}: {e.Value}")).Append('}');
        return Scan.Ok;
    }

    private static Scan Entry(TextCursor c, out string key, out string value)
    {
        key = value = string.Empty;
        var keyJson = new StringBuilder();
        var read = Value(c, keyJson);
        if (read != Scan.Ok)
        {
            return read;
        }

        key = keyJson.ToString();
        if (key[0] != '"')
        {
            if (key[0] is '[' or '{')
            {
                return Scan.Bad; // unhashable
            }

            key = '"' + key + '"'; // 1 -> "1", True -> "true", None -> "null", as json.dumps
        }

        c.SkipWhitespace();
        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek != ':')
        {
            return Scan.Bad; // a set, or not Python
        }

        c.Pos++;
        c.SkipWhitespace();
        var valueJson = new StringBuilder();
        read = Value(c, valueJson);
        value = valueJson.ToString();
        return read;
    }

    private static Scan String(TextCursor c, StringBuilder json, bool raw) => PythonStrings.Read(c, json, raw);
}

using System.Globalization;
using System.Text;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// Python string literals of model output: <c>'…'</c>, <c>"…"</c>, triple-quoted, raw (<c>r'…'</c>), with Python's
/// escapes (<c>\n</c>, <c>\t</c>, <c>\xhh</c>, <c>\uXXXX</c>, <c>\UXXXXXXXX</c>, octal, line continuation; an unknown
/// escape keeps its backslash, as Python does). Written as a JSON string literal.
/// </summary>
internal static class PythonStrings
{
    /// <summary>Reads the literal at the cursor (its opening quote; any prefix already consumed).</summary>
    public static Scan Read(TextCursor c, StringBuilder json, bool raw)
    {
        var quote = c.Peek;
        c.Pos++;
        var triple = false;
        if (c.Peek == quote)
        {
            if (c.PeekAt(1) == quote)
            {
                triple = true;
                c.Pos += 2;
            }
            else if (c.Pos + 1 >= c.Text.Length && !c.Final)
            {
                return Scan.More; // "" so far: empty, or the start of """
            }
            else
            {
                c.Pos++;
                json.Append("\"\"");
                return Scan.Ok;
            }
        }

        var text = new StringBuilder();
        var body = Body(c, text, quote, triple, raw);
        if (body != Scan.Ok)
        {
            return body;
        }

        var value = text.ToString();
        if (HasLoneSurrogate(value))
        {
            return Scan.Bad; // not text, so no JSON string
        }

        PythonJson.AppendString(json, value);
        return Scan.Ok;
    }

    private static Scan Body(TextCursor c, StringBuilder text, char quote, bool triple, bool raw)
    {
        while (true)
        {
            if (c.AtEnd)
            {
                return c.Eof();
            }

            var ch = c.Peek;
            if (ch == quote)
            {
                if (!triple)
                {
                    c.Pos++;
                    return Scan.Ok;
                }

                var run = 1;
                while (run < 3 && c.Pos + run < c.Text.Length && c.Text[c.Pos + run] == quote)
                {
                    run++;
                }

                if (run == 3)
                {
                    c.Pos += 3;
                    return Scan.Ok;
                }

                if (c.Pos + run >= c.Text.Length)
                {
                    return c.Eof(); // the text ends inside a run of quotes: the end, or not yet
                }

                text.Append(ch);
                c.Pos++;
                continue;
            }

            if (ch is '\n' or '\r' && !triple)
            {
                return Scan.Bad;
            }

            if (ch != '\\')
            {
                text.Append(ch);
                c.Pos++;
                continue;
            }

            var escape = raw ? RawEscape(c, text) : Escape(c, text);
            if (escape != Scan.Ok)
            {
                return escape;
            }
        }
    }

    /// <summary>In a raw string a backslash stays, and keeps the next character (even a quote) from ending it.</summary>
    private static Scan RawEscape(TextCursor c, StringBuilder text)
    {
        if (c.Pos + 1 >= c.Text.Length)
        {
            return c.Eof();
        }

        text.Append('\\').Append(c.Text[c.Pos + 1]);
        c.Pos += 2;
        return Scan.Ok;
    }

    private static Scan Escape(TextCursor c, StringBuilder text)
    {
        if (c.Pos + 1 >= c.Text.Length)
        {
            return c.Eof();
        }

        var e = c.Text[c.Pos + 1];
        c.Pos += 2;
        switch (e)
        {
            case '\n': return Scan.Ok; // line continuation
            case '\r':
                if (c.Peek == '\n')
                {
                    c.Pos++;
                }

                return Scan.Ok;
            case '\\' or '\'' or '"': text.Append(e); return Scan.Ok;
            case 'n': text.Append('\n'); return Scan.Ok;
            case 'r': text.Append('\r'); return Scan.Ok;
            case 't': text.Append('\t'); return Scan.Ok;
            case 'b': text.Append('\b'); return Scan.Ok;
            case 'f': text.Append('\f'); return Scan.Ok;
            case 'v': text.Append('\v'); return Scan.Ok;
            case 'a': text.Append('\a'); return Scan.Ok;
            case 'x': return Hex(c, text, 2);
            case 'u': return Hex(c, text, 4);
            case 'U': return Hex(c, text, 8);
            case 'N': return Scan.Bad; // \N{name}: no table of names here
            case >= '0' and <= '7': return Octal(c, text, e);
            default:
                text.Append('\\').Append(e); // Python keeps an unknown escape as written
                return Scan.Ok;
        }
    }

    private static Scan Hex(TextCursor c, StringBuilder text, int count)
    {
        if (c.Pos + count > c.Text.Length)
        {
            for (var i = c.Pos; i < c.Text.Length; i++)
            {
                if (!char.IsAsciiHexDigit(c.Text[i]))
                {
                    return Scan.Bad;
                }
            }

            return c.Eof();
        }

        var digits = c.Text.AsSpan(c.Pos, count);
        if (!uint.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var code) || code > 0x10FFFF)
        {
            return Scan.Bad;
        }

        c.Pos += count;
        return Append(text, (int)code);
    }

    private static Scan Octal(TextCursor c, StringBuilder text, char first)
    {
        var code = first - '0';
        for (var i = 0; i < 2 && !c.AtEnd && c.Peek is >= '0' and <= '7'; i++)
        {
            code = code * 8 + (c.Peek - '0');
            c.Pos++;
        }

        if (c.AtEnd)
        {
            return c.Eof(); // more octal digits may follow
        }

        return Append(text, code);
    }

    private static Scan Append(StringBuilder text, int code)
    {
        if (code is >= 0xD800 and <= 0xDFFF)
        {
            text.Append((char)code); // half of a pair written as two escapes; checked as a whole at the end
        }
        else
        {
            text.Append(char.ConvertFromUtf32(code));
        }

        return Scan.Ok;
    }

    private static bool HasLoneSurrogate(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(value[i]))
            {
                return true;
            }
        }

        return false;
    }
}

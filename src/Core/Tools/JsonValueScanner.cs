namespace Llama4Cluster.Core.Tools;

/// <summary>
/// Finds where one strict JSON value (RFC 8259) ends in model output, checking its syntax as it goes, so that prose with
/// a brace in it is known not to be JSON at the first wrong character rather than at the end of the output.
/// </summary>
internal static class JsonValueScanner
{
    /// <summary>Moves the cursor past one JSON value (no leading whitespace).</summary>
    public static Scan Value(TextCursor c)
    {
        if (c.AtEnd)
        {
            return c.Eof();
        }

        switch (c.Peek)
        {
            case '{':
                return Container(c, '}', member: true);
            case '[':
                return Container(c, ']', member: false);
            case '"':
                return String(c);
            case 't':
                return c.Literal("true");
            case 'f':
                return c.Literal("false");
            case 'n':
                return c.Literal("null");
            default:
                return c.Peek == '-' || char.IsAsciiDigit(c.Peek) ? Number(c) : Scan.Bad;
        }
    }

    private static Scan Container(TextCursor c, char close, bool member)
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

        if (c.Peek == close)
        {
            c.Pos++;
            c.Leave();
            return Scan.Ok;
        }

        while (true)
        {
            var item = member ? Member(c) : Value(c);
            if (item != Scan.Ok)
            {
                return item;
            }

            c.SkipWhitespace();
            if (c.AtEnd)
            {
                return c.Eof();
            }

            if (c.Peek == close)
            {
                c.Pos++;
                c.Leave();
                return Scan.Ok;
            }

            if (c.Peek != ',')
            {
                return Scan.Bad;
            }

            c.Pos++;
            c.SkipWhitespace();
        }
    }

    private static Scan Member(TextCursor c)
    {
        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek != '"')
        {
            return Scan.Bad;
        }

        var key = String(c);
        if (key != Scan.Ok)
        {
            return key;
        }

        c.SkipWhitespace();
        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek != ':')
        {
            return Scan.Bad;
        }

        c.Pos++;
        c.SkipWhitespace();
        return Value(c);
    }

    private static Scan String(TextCursor c)
    {
        c.Pos++;
        while (!c.AtEnd)
        {
            var ch = c.Peek;
            if (ch == '"')
            {
                c.Pos++;
                return Scan.Ok;
            }

            if (ch < ' ')
            {
                return Scan.Bad;
            }

            if (ch != '\\')
            {
                c.Pos++;
                continue;
            }

            if (c.Pos + 1 >= c.Text.Length)
            {
                return c.Eof();
            }

            var escape = c.PeekAt(1);
            if (escape == 'u')
            {
                for (var i = 2; i < 6; i++)
                {
                    if (c.Pos + i >= c.Text.Length)
                    {
                        return c.Eof();
                    }

                    if (!char.IsAsciiHexDigit(c.Text[c.Pos + i]))
                    {
                        return Scan.Bad;
                    }
                }

                c.Pos += 6;
            }
            else if (escape is '"' or '\\' or '/' or 'b' or 'f' or 'n' or 'r' or 't')
            {
                c.Pos += 2;
            }
            else
            {
                return Scan.Bad;
            }
        }

        return c.Eof();
    }

    private static Scan Number(TextCursor c)
    {
        if (c.Peek == '-')
        {
            c.Pos++;
        }

        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek == '0')
        {
            c.Pos++;
        }
        else if (!Digits(c))
        {
            return Scan.Bad;
        }

        if (c.Peek == '.')
        {
            c.Pos++;
            if (c.AtEnd)
            {
                return c.Eof();
            }

            if (!Digits(c))
            {
                return Scan.Bad;
            }
        }

        if (c.Peek is 'e' or 'E')
        {
            c.Pos++;
            if (c.Peek is '+' or '-')
            {
                c.Pos++;
            }

            if (c.AtEnd)
            {
                return c.Eof();
            }

            if (!Digits(c))
            {
                return Scan.Bad;
            }
        }

        // A number that reaches the end of the text may still grow.
        return c.AtEnd ? c.Eof() : Scan.Ok;
    }

    private static bool Digits(TextCursor c)
    {
        var start = c.Pos;
        while (!c.AtEnd && char.IsAsciiDigit(c.Peek))
        {
            c.Pos++;
        }

        return c.Pos > start;
    }
}

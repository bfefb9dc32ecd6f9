using System.Globalization;
using System.Numerics;
using System.Text;

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// Python number literals written as JSON numbers: a sign, decimal integers and floats (<c>1_000</c>, <c>.5</c>,
/// <c>2.</c>, <c>1e3</c> become <c>1000</c>, <c>0.5</c>, <c>2.0</c>, <c>1e3</c>) and hex, octal and binary integers
/// (as decimal). Complex numbers have no JSON value.
/// </summary>
internal static class PythonNumbers
{
    public static Scan Read(TextCursor c, StringBuilder json)
    {
        var negative = false;
        if (c.Peek is '-' or '+')
        {
            negative = c.Peek == '-';
            c.Pos++;
            c.SkipWhitespace();
        }

        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (c.Peek == '0' && char.ToLowerInvariant(c.PeekAt(1)) is 'x' or 'o' or 'b')
        {
            return RadixInteger(c, json, negative);
        }

        var whole = Digits(c);
        var text = new StringBuilder(negative ? "-" : "");
        var fraction = (string?)null;
        if (c.Peek == '.')
        {
            c.Pos++;
            fraction = Digits(c);
        }

        if (whole.Length == 0 && string.IsNullOrEmpty(fraction))
        {
            return c.AtEnd ? c.Eof() : Scan.Bad;
        }

        var trimmed = whole.TrimStart('0');
        text.Append(trimmed.Length == 0 ? "0" : trimmed);
        if (fraction is not null)
        {
            text.Append('.').Append(fraction.Length == 0 ? "0" : fraction);
        }

        if (c.Peek is 'e' or 'E')
        {
            c.Pos++;
            text.Append('e');
            if (c.Peek is '+' or '-')
            {
                text.Append(c.Peek);
                c.Pos++;
            }

            var exponent = Digits(c);
            if (exponent.Length == 0)
            {
                return c.AtEnd ? c.Eof() : Scan.Bad;
            }

            text.Append(exponent);
        }

        if (c.AtEnd)
        {
            return c.Eof(); // the number may go on
        }

        if (c.Peek is 'j' or 'J' || PythonLiterals.IsNamePart(c.Peek))
        {
            return Scan.Bad;
        }

        json.Append(text);
        return Scan.Ok;
    }

    private static Scan RadixInteger(TextCursor c, StringBuilder json, bool negative)
    {
        var radix = char.ToLowerInvariant(c.PeekAt(1)) switch { 'x' => 16, 'o' => 8, _ => 2 };
        c.Pos += 2;
        var value = BigInteger.Zero;
        var digits = 0;
        while (!c.AtEnd && (char.IsAsciiHexDigit(c.Peek) || c.Peek == '_'))
        {
            if (c.Peek != '_')
            {
                var digit = int.Parse(c.Peek.ToString(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
                if (digit >= radix)
                {
                    return Scan.Bad;
                }

                value = value * radix + digit;
                digits++;
            }

            c.Pos++;
        }

        if (c.AtEnd)
        {
            return c.Eof();
        }

        if (digits == 0 || PythonLiterals.IsNamePart(c.Peek))
        {
            return Scan.Bad;
        }

        json.Append((negative ? -value : value).ToString(CultureInfo.InvariantCulture));
        return Scan.Ok;
    }

    /// <summary>ASCII digits, with the underscores Python allows between them dropped.</summary>
    private static string Digits(TextCursor c)
    {
        var digits = new StringBuilder();
        while (!c.AtEnd && (char.IsAsciiDigit(c.Peek) || (c.Peek == '_' && digits.Length > 0 && char.IsAsciiDigit(c.PeekAt(1)))))
        {
            if (c.Peek != '_')
            {
                digits.Append(c.Peek);
            }

            c.Pos++;
        }

        return digits.ToString();
    }
}

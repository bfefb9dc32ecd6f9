using System.Globalization;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// Parses the practical subset of regular expressions that guided decoding supports: literals and escapes
/// (<c>\d \w \s \D \W \S \n \t \r \f \v \xHH \uHHHH</c>, escaped punctuation), classes with ranges and negation,
/// <c>.</c>, groups (capturing, <c>(?:…)</c>, named), alternation, and the quantifiers <c>? * + {m} {m,} {m,n}</c>
/// (lazy forms too: the language is the same). <c>^</c> and <c>$</c> are accepted at the ends only, since the whole output
/// must match. Anything else (lookaround, backreferences, word boundaries, inline flags, Unicode property classes,
/// possessive quantifiers) is a <see cref="GuidanceException"/> naming it and its position.
/// </summary>
internal sealed class RegexParser
{
    /// <summary>Largest repetition count accepted in <c>{m,n}</c>.</summary>
    public const int MaxRepeat = 1000;

    private static readonly RegexSet Digits = RegexSet.Of(('0', '9'));
    private static readonly RegexSet Word = RegexSet.Of(('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z'));
    private static readonly RegexSet Space = RegexSet.Of(('\t', '\r'), (' ', ' '));

    private readonly string _pattern;
    private int _at;

    private RegexParser(string pattern)
    {
        _pattern = pattern;
    }

    /// <summary>Any scalar but a newline (<c>.</c>).</summary>
    public static RegexSet Dot { get; } = RegexSet.Complement([('\n', '\n')]);

    public static RegexNode Parse(string pattern)
    {
        var parser = new RegexParser(pattern);
        if (parser.Peek('^'))
        {
            parser._at++;
        }

        var node = parser.Alternation();
        if (parser._at < pattern.Length)
        {
            throw parser.Error("syntax", $"unbalanced ')' at position {parser._at}");
        }

        return node;
    }

    private RegexNode Alternation()
    {
        var options = new List<RegexNode> { Concatenation() };
        while (Peek('|'))
        {
            _at++;
            options.Add(Concatenation());
        }

        return options.Count == 1 ? options[0] : new RegexAlternation(options);
    }

    private RegexNode Concatenation()
    {
        var items = new List<RegexNode>();
        while (_at < _pattern.Length && !Peek('|') && !Peek(')'))
        {
            if (Peek('$') && _at == _pattern.Length - 1)
            {
                _at++;
                break;
            }

            var atom = Atom();
            items.Add(Quantified(atom));
        }

        return items.Count == 1 ? items[0] : new RegexConcat(items);
    }

    private RegexNode Quantified(RegexNode atom)
    {
        var (min, max) = (0, (int?)null);
        if (Peek('*')) { _at++; }
        else if (Peek('+')) { _at++; min = 1; }
        else if (Peek('?')) { _at++; max = 1; }
        else if (Peek('{') && TryCounts(out var counts)) { (min, max) = counts; }
        else { return atom; }

        if (Peek('?'))
        {
            _at++; // lazy: the same language
        }

        if (Peek('+'))
        {
            throw Error("possessive quantifier", $"possessive quantifiers are not supported (position {_at})");
        }

        if (Peek('*') || Peek('?') || (Peek('{') && TryCounts(out _)))
        {
            throw Error("nested quantifier", $"a quantifier follows a quantifier at position {_at}; group the inner one");
        }

        return new RegexRepeat(atom, min, max);
    }

    /// <summary>Reads <c>{m}</c>, <c>{m,}</c> or <c>{m,n}</c>; leaves the position alone (a literal '{') otherwise.</summary>
    private bool TryCounts(out (int Min, int? Max) counts)
    {
        counts = default;
        var close = _pattern.IndexOf('}', _at);
        if (close < 0)
        {
            return false;
        }

        var parts = _pattern[(_at + 1)..close].Split(',');
        if (parts.Length > 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var min))
        {
            return false;
        }

        int? max = min;
        if (parts.Length == 2)
        {
            max = parts[1].Length == 0 ? null
                : int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var m) ? m : -1;
            if (max == -1)
            {
                return false;
            }
        }

        if (max < min || min > MaxRepeat || max > MaxRepeat)
        {
            throw Error("repetition", $"repetition {_pattern[_at..(close + 1)]} at position {_at} must have min <= max <= {MaxRepeat}");
        }

        _at = close + 1;
        counts = (min, max);
        return true;
    }

    private RegexNode Atom()
    {
        var c = _pattern[_at];
        switch (c)
        {
            case '(':
                return Group();
            case '[':
                return Class();
            case '.':
                _at++;
                return Dot;
            case '\\':
                _at++;
                return Escape(inClass: false) is { } set ? set : throw Error("escape", "dangling backslash at the end");
            case '^':
                throw Error("anchor", $"'^' is only supported at the start (position {_at}): the whole output must match");
            case '$':
                throw Error("anchor", $"'$' is only supported at the end (position {_at}): the whole output must match");
            case '*' or '+' or '?':
                throw Error("syntax", $"'{c}' at position {_at} has nothing to repeat");
            default:
                return RegexSet.Of(Literal());
        }
    }

    private RegexNode Group()
    {
        var open = _at;
        _at++;
        if (Peek('?'))
        {
            var rest = _pattern[(_at + 1)..];
            if (rest.StartsWith(':'))
            {
                _at += 2;
            }
            else if (rest.StartsWith("P<", StringComparison.Ordinal) || (rest.StartsWith('<') && !rest.StartsWith("<=", StringComparison.Ordinal) && !rest.StartsWith("<!", StringComparison.Ordinal)))
            {
                var close = _pattern.IndexOf('>', _at);
                _at = close < 0 ? throw Error("syntax", $"unterminated group name at position {open}") : close + 1;
            }
            else if (rest.StartsWith('=') || rest.StartsWith('!') || rest.StartsWith("<=", StringComparison.Ordinal) || rest.StartsWith("<!", StringComparison.Ordinal))
            {
                throw Error("lookaround", $"lookaround (lookahead, lookbehind) is not supported (position {open})");
            }
            else
            {
                throw Error("inline flags", $"inline flags and special groups '(?{(rest.Length > 0 ? rest[0] : ' ')}' are not supported (position {open})");
            }
        }

        var body = Alternation();
        if (!Peek(')'))
        {
            throw Error("syntax", $"unclosed group opened at position {open}");
        }

        _at++;
        return body;
    }

    private RegexSet Class()
    {
        var open = _at;
        _at++;
        var negated = Peek('^');
        if (negated)
        {
            _at++;
        }

        var ranges = new List<(int, int)>();
        var first = true;
        while (_at < _pattern.Length && (!Peek(']') || first))
        {
            first = false;
            if (Peek('[') && _at + 1 < _pattern.Length && _pattern[_at + 1] is ':' or '=' or '.')
            {
                throw Error("POSIX class", $"POSIX classes such as [:alpha:] are not supported (position {_at})");
            }

            (int Lo, int Hi) item;
            if (Peek('\\'))
            {
                _at++;
                var set = Escape(inClass: true) ?? throw Error("escape", "dangling backslash at the end");
                if (set.Ranges.Count != 1 || set.Ranges[0].Lo != set.Ranges[0].Hi)
                {
                    ranges.AddRange(set.Ranges);
                    continue;
                }

                item = set.Ranges[0];
            }
            else
            {
                item = Literal();
            }

            if (Peek('-') && _at + 1 < _pattern.Length && _pattern[_at + 1] != ']')
            {
                _at++;
                var hi = Peek('\\') ? EscapedScalar() : Literal().Lo;
                if (hi < item.Lo)
                {
                    throw Error("syntax", $"class range out of order at position {_at}");
                }

                item = (item.Lo, hi);
            }

            ranges.Add(item);
        }

        if (!Peek(']'))
        {
            throw Error("syntax", $"unclosed character class opened at position {open}");
        }

        _at++;
        return negated ? RegexSet.Complement(ranges) : new RegexSet(RegexSet.Normalize(ranges));
    }

    private int EscapedScalar()
    {
        _at++;
        var set = Escape(inClass: true) ?? throw Error("escape", "dangling backslash at the end");
        return set.Ranges.Count == 1 && set.Ranges[0].Lo == set.Ranges[0].Hi
            ? set.Ranges[0].Lo
            : throw Error("syntax", $"a class shorthand cannot end a range (position {_at})");
    }

    /// <summary>After a backslash: the set it stands for; null at the end of the pattern.</summary>
    private RegexSet? Escape(bool inClass)
    {
        if (_at >= _pattern.Length)
        {
            return null;
        }

        var c = _pattern[_at++];
        return c switch
        {
            'd' => Digits,
            'D' => RegexSet.Complement(Digits.Ranges),
            'w' => Word,
            'W' => RegexSet.Complement(Word.Ranges),
            's' => Space,
            'S' => RegexSet.Complement(Space.Ranges),
            'n' => RegexSet.Of(('\n', '\n')),
            't' => RegexSet.Of(('\t', '\t')),
            'r' => RegexSet.Of(('\r', '\r')),
            'f' => RegexSet.Of(('\f', '\f')),
            'v' => RegexSet.Of(('\v', '\v')),
            '0' => RegexSet.Of((0, 0)),
            'b' when inClass => RegexSet.Of(('\b', '\b')),
            'x' => Hex(2),
            'u' => Hex(4),
            'b' or 'B' or 'A' or 'Z' or 'z' or 'G' => throw Error("anchor", $"'\\{c}' (an assertion) is not supported (position {_at - 2})"),
            'p' or 'P' => throw Error("unicode property class", $"'\\{c}{{…}}' Unicode property classes are not supported (position {_at - 2})"),
            >= '1' and <= '9' => throw Error("backreference", $"backreferences are not supported (position {_at - 2})"),
            _ when char.IsAsciiLetterOrDigit(c) => throw Error("escape", $"unknown escape '\\{c}' at position {_at - 2}"),
            _ => RegexSet.Of(ScalarAt(_at - 1)),
        };
    }

    private RegexSet Hex(int digits)
    {
        if (_at + digits > _pattern.Length || !int.TryParse(_pattern.AsSpan(_at, digits), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
        {
            throw Error("escape", $"expected {digits} hex digits at position {_at}");
        }

        _at += digits;
        return RegexSet.Of((value, value));
    }

    private (int Lo, int Hi) Literal()
    {
        var scalar = ScalarAt(_at);
        return (scalar.Lo, scalar.Hi);
    }

    /// <summary>The scalar at <paramref name="index"/> (a surrogate pair read whole); advances past it.</summary>
    private (int Lo, int Hi) ScalarAt(int index)
    {
        int scalar;
        if (char.IsHighSurrogate(_pattern[index]) && index + 1 < _pattern.Length && char.IsLowSurrogate(_pattern[index + 1]))
        {
            scalar = char.ConvertToUtf32(_pattern[index], _pattern[index + 1]);
            _at = index + 2;
        }
        else
        {
            scalar = _pattern[index];
            _at = index + 1;
        }

        return (scalar, scalar);
    }

    private bool Peek(char c) => _at < _pattern.Length && _pattern[_at] == c;

    private GuidanceException Error(string feature, string message) => new(feature, $"regex /{_pattern}/: {message}.");
}

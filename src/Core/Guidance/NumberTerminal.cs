namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// A JSON number in plain decimal form (<c>-?(0|[1-9][0-9]*)(\.[0-9]+)?</c>, no exponent) with at most
/// <see cref="NumberBounds.IntegerDigits"/> integer and <see cref="NumberBounds.FractionDigits"/> fraction digits, whose
/// value lies within the bounds. A prefix is accepted only while some completion of it is in range, so generation never
/// paints itself into a corner; the digit limits keep every number finite.
/// </summary>
/// <remarks>
/// State: an id of the text read so far (interned; 0 is the empty text). Viability: the values a prefix can still reach
/// form, for each count of further integer digits, one interval on the grid of the last digit; a prefix is viable when one
/// of them meets the bounds (exact in <see cref="decimal"/>, which holds 28 digits).
/// </remarks>
internal sealed class NumberTerminal : IByteTerminal
{
    private readonly NumberBounds _bounds;
    private readonly decimal _grid;
    private readonly decimal _low;
    private readonly decimal _high;
    private readonly List<string> _texts = [""];
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal) { [""] = 0 };
    private readonly Dictionary<long, int> _steps = [];
    private readonly object _lock = new();

    public NumberTerminal(NumberBounds bounds)
    {
        _bounds = bounds;
        _grid = bounds.Integer ? 1m : Pow10(-bounds.FractionDigits);
        var reach = Pow10(bounds.IntegerDigits) - _grid;
        _low = bounds.Minimum is { } min ? (bounds.ExclusiveMinimum ? Floor(min) + _grid : Ceiling(min)) : -reach;
        _high = bounds.Maximum is { } max ? (bounds.ExclusiveMaximum ? Ceiling(max) - _grid : Floor(max)) : reach;
        _low = Math.Max(_low, -reach);
        _high = Math.Min(_high, reach);
        if (_low > _high)
        {
            throw new GuidanceException("minimum", $"no number with at most {bounds.IntegerDigits} integer digits{(bounds.Integer ? " and no fraction" : $" and {bounds.FractionDigits} fraction digits")} lies within the bounds {bounds.Describe()} (check minimum and maximum).");
        }
    }

    public int Step(int state, byte b)
    {
        lock (_lock)
        {
            var key = ((long)state << 8) | b;
            if (_steps.TryGetValue(key, out var cached))
            {
                return cached;
            }

            var text = _texts[state] + (char)b;
            var next = Viable(text) ? Intern(text) : -1;
            _steps[key] = next;
            return next;
        }
    }

    public bool Accepts(int state)
    {
        string text;
        lock (_lock)
        {
            text = _texts[state];
        }

        if (Parse(text) is not { Complete: true } p)
        {
            return false;
        }

        var value = p.Negative ? -p.Value : p.Value;
        return value >= _low && value <= _high;
    }

    public bool CanContinue(int state)
    {
        foreach (var b in "0123456789.-"u8)
        {
            if (Step(state, b) >= 0)
            {
                return true;
            }
        }

        return false;
    }

    private int Intern(string text)
    {
        if (!_ids.TryGetValue(text, out var id))
        {
            id = _texts.Count;
            _texts.Add(text);
            _ids[text] = id;
        }

        return id;
    }

    /// <summary>True when <paramref name="text"/> is a prefix of a number in the bounds.</summary>
    private bool Viable(string text)
    {
        if (Parse(text) is not { } p)
        {
            return false;
        }

        if (p.IntegerText.Length == 0)
        {
            // "-" alone: any number at most -0 (i.e. 0 itself, or a negative one).
            return _low <= 0m;
        }

        foreach (var (lo, hi) in Reachable(p))
        {
            var (a, b) = p.Negative ? (-hi, -lo) : (lo, hi);
            if (Math.Max(a, _low) <= Math.Min(b, _high))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The magnitudes reachable from a parsed prefix, as grid-aligned closed intervals.</summary>
    private IEnumerable<(decimal Lo, decimal Hi)> Reachable(Parsed p)
    {
        var integer = decimal.Parse(p.IntegerText, System.Globalization.CultureInfo.InvariantCulture);
        if (p.HasDot)
        {
            if (p.FractionText.Length == _bounds.FractionDigits)
            {
                yield return (p.Value, p.Value);
                yield break;
            }

            var width = p.FractionText.Length == 0 ? 1m : Pow10(-p.FractionText.Length);
            yield return (p.Value, p.Value + width - _grid);
            yield break;
        }

        if (p.IntegerText == "0")
        {
            yield return (0m, _bounds.Integer ? 0m : 1m - _grid);
            yield break;
        }

        // More integer digits may follow: d·10^j … (d+1)·10^j − grid for each count j of further digits.
        for (var j = 0; j + p.IntegerText.Length <= _bounds.IntegerDigits; j++)
        {
            var scale = Pow10(j);
            var hi = _bounds.Integer && j == 0 ? integer : (integer + 1) * scale - _grid;
            yield return (integer * scale, hi);
        }
    }

    private Parsed? Parse(string text)
    {
        var i = 0;
        var negative = text.StartsWith('-');
        if (negative)
        {
            i = 1;
        }

        var intStart = i;
        while (i < text.Length && char.IsAsciiDigit(text[i]))
        {
            i++;
        }

        var integerText = text[intStart..i];
        if (integerText.Length > _bounds.IntegerDigits || (integerText.Length > 1 && integerText[0] == '0'))
        {
            return null;
        }

        if (i == text.Length)
        {
            var complete = integerText.Length > 0;
            return new Parsed(negative, integerText, false, "", complete, complete ? Magnitude(integerText, "") : 0m);
        }

        if (text[i] != '.' || integerText.Length == 0 || _bounds.Integer)
        {
            return null;
        }

        var fraction = text[(i + 1)..];
        if (fraction.Length > _bounds.FractionDigits || !fraction.All(char.IsAsciiDigit))
        {
            return null;
        }

        var done = fraction.Length > 0;
        return new Parsed(negative, integerText, true, fraction, done, Magnitude(integerText, fraction));
    }

    private static decimal Magnitude(string integer, string fraction) =>
        decimal.Parse(fraction.Length == 0 ? integer : integer + "." + fraction, System.Globalization.CultureInfo.InvariantCulture);

    private decimal Floor(decimal x) => Math.Floor(x / _grid) * _grid;

    private decimal Ceiling(decimal x) => Math.Ceiling(x / _grid) * _grid;

    private static decimal Pow10(int exponent)
    {
        var r = 1m;
        for (var i = 0; i < Math.Abs(exponent); i++)
        {
            r = exponent > 0 ? r * 10m : r / 10m;
        }

        return r;
    }

    /// <summary>A syntactically valid prefix; <see cref="Value"/> is the magnitude (sign in <see cref="Negative"/>).</summary>
    private sealed record Parsed(bool Negative, string IntegerText, bool HasDot, string FractionText, bool Complete, decimal Value);
}

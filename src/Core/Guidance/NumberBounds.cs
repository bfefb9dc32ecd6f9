using System.Globalization;

namespace Llama4Cluster.Core.Guidance;

/// <summary>What a <see cref="NumberTerminal"/> accepts: integer or decimal, optional bounds, digit limits.</summary>
internal sealed record NumberBounds
{
    /// <summary>Integer digits of an unbounded number (a bound with more digits raises it, up to <see cref="MaxIntegerDigits"/>).</summary>
    public const int DefaultIntegerDigits = 15;

    public const int MaxIntegerDigits = 18;

    /// <summary>Fraction digits of a non-integer number (decimal holds 28 digits: 18 + 10).</summary>
    public const int DefaultFractionDigits = 10;

    public bool Integer { get; init; }

    public decimal? Minimum { get; init; }

    public decimal? Maximum { get; init; }

    public bool ExclusiveMinimum { get; init; }

    public bool ExclusiveMaximum { get; init; }

    public int IntegerDigits { get; init; } = DefaultIntegerDigits;

    public int FractionDigits { get; init; } = DefaultFractionDigits;

    public string Describe()
    {
        var lo = Minimum is { } min ? (ExclusiveMinimum ? "(" : "[") + min.ToString(CultureInfo.InvariantCulture) : "(-inf";
        var hi = Maximum is { } max ? max.ToString(CultureInfo.InvariantCulture) + (ExclusiveMaximum ? ")" : "]") : "inf)";
        return lo + ", " + hi;
    }

    /// <summary>The integer digits the bounds need (an unbounded side keeps the default).</summary>
    public static int DigitsFor(decimal? minimum, decimal? maximum)
    {
        var largest = Math.Max(Math.Abs(minimum ?? 0m), Math.Abs(maximum ?? 0m));
        var digits = Math.Floor(largest).ToString(CultureInfo.InvariantCulture).Length;
        return Math.Clamp(Math.Max(digits, DefaultIntegerDigits), 1, MaxIntegerDigits);
    }
}

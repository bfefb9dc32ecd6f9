using System.Globalization;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>Decimal byte sizes, as GPU vendors and the spec quote them: 1 GB = 10⁹ bytes.</summary>
public static class ByteSize
{
    public const long GB = 1_000_000_000L;

    /// <summary><c>12.3 GB</c>, or MB / KB / B for small values.</summary>
    public static string Format(long bytes) => bytes switch
    {
        >= GB or <= -GB => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)GB:F1} GB"),
        >= 1_000_000 or <= -1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e6:F1} MB"),
        >= 1_000 or <= -1_000 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1e3:F1} KB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
    };

    /// <summary>GB with one decimal and no unit, for table columns.</summary>
    public static string FormatGb(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)GB:F1}");

    /// <summary>
    /// Parses <c>80GB</c>, <c>80 GB</c>, <c>79.6GiB</c>, <c>512MB</c>, <c>2TB</c>, <c>1024MiB</c> or a plain byte count.
    /// </summary>
    public static bool TryParse(string text, out long bytes)
    {
        bytes = 0;
        if (string.IsNullOrWhiteSpace(text)) return false;
        string s = text.Trim();
        int split = s.Length;
        while (split > 0 && char.IsLetter(s[split - 1])) split--;
        string unit = s[split..].ToUpperInvariant();
        long multiplier = unit switch
        {
            "" or "B" => 1,
            "KB" => 1_000, "MB" => 1_000_000, "GB" => GB, "TB" => 1000 * GB,
            "KIB" => 1L << 10, "MIB" => 1L << 20, "GIB" => 1L << 30, "TIB" => 1L << 40,
            _ => 0,
        };
        if (multiplier == 0) return false;
        if (!double.TryParse(s[..split].Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double value)) return false;
        double result = value * multiplier;
        if (!double.IsFinite(result) || result <= 0 || result > long.MaxValue / 2) return false;
        bytes = (long)Math.Round(result);
        return true;
    }
}

using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// Splits plain text into the pieces that BPE encodes: META's guard against very long runs, then the o200k-style
/// regex of spec §4.1.
/// </summary>
/// <remarks>
/// tiktoken's regex engine matches Unicode code points, .NET's matches UTF-16 code units, so a character outside the
/// BMP (emoji, CJK extension B, math letters) would be seen as two <c>Cs</c> surrogates and split differently.
/// Text containing surrogates is therefore matched on a stand-in string with one BMP char per code point of the same
/// general category (no astral code point is whitespace or ASCII), and the matches are mapped back.
/// The stand-in also writes U+017F (long s) as 's' (both Ll): Rust's <c>(?i)</c> uses Unicode simple case folding, so
/// <c>'ſ</c> is a contraction there, while .NET's case-insensitive <c>'s</c> does not match it.
/// </remarks>
public static partial class Llama4PreTokenizer
{
    /// <summary>The pre-tokenisation pattern, verbatim from META <c>tokenizer.py</c> (O200K_PATTERN).</summary>
    public const string Pattern =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?" +
        @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>META encodes text in blocks of at most this many characters (code points).</summary>
    public const int MaxEncodeChars = 400_000;

    /// <summary>META breaks runs of more than this many consecutive whitespace or non-whitespace characters.</summary>
    public const int MaxConsecutiveChars = 25_000;

    /// <summary>The regex pieces of <paramref name="text"/>, after META's block and long-run splitting.</summary>
    public static IEnumerable<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        foreach (var block in SplitBlocks(text))
        {
            foreach (var piece in SplitRegex(block))
            {
                yield return piece;
            }
        }
    }

    /// <summary>
    /// META <c>Tokenizer.encode</c>: 400,000-code-point blocks, each cut so that no run of whitespace or of
    /// non-whitespace exceeds 25,000 code points (Python <c>str.isspace</c> semantics).
    /// </summary>
    internal static IEnumerable<string> SplitBlocks(string text)
    {
        if (text.Length == 0)
        {
            yield return text;
            yield break;
        }

        var blockStart = 0;
        while (blockStart < text.Length)
        {
            var blockEnd = AdvanceCodePoints(text, blockStart, MaxEncodeChars);
            var sliceStart = blockStart;
            var runLength = 0;
            var runIsSpace = IsPythonSpace(text, blockStart);
            for (var i = blockStart; i < blockEnd; i += CodePointLength(text, i))
            {
                var isSpace = IsPythonSpace(text, i);
                if (isSpace != runIsSpace)
                {
                    runLength = 1;
                    runIsSpace = isSpace;
                }
                else if (++runLength > MaxConsecutiveChars)
                {
                    yield return text[sliceStart..i];
                    sliceStart = i;
                    runLength = 1;
                }
            }

            yield return text[sliceStart..blockEnd];
            blockStart = blockEnd;
        }
    }

    internal static IEnumerable<string> SplitRegex(string text)
    {
        if (!NeedsStandIn(text))
        {
            for (var match = PieceRegex().Match(text); match.Success; match = match.NextMatch())
            {
                yield return match.Value;
            }

            yield break;
        }

        var (standIn, offsets) = BuildStandIn(text);
        for (var match = PieceRegex().Match(standIn); match.Success; match = match.NextMatch())
        {
            var start = offsets[match.Index];
            var end = offsets[match.Index + match.Length];
            yield return text[start..end];
        }
    }

    private const char LongS = '\u017F';

    [GeneratedRegex(Pattern, RegexOptions.CultureInvariant)]
    private static partial Regex PieceRegex();

    private static bool NeedsStandIn(string text)
    {
        foreach (var c in text)
        {
            if (char.IsSurrogate(c) || c == LongS)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>One char per code point; <c>offsets[i]</c> is the UTF-16 index of stand-in char i in the original.</summary>
    private static (string StandIn, int[] Offsets) BuildStandIn(string text)
    {
        var chars = new StringBuilder(text.Length);
        var offsets = new List<int>(text.Length + 1);
        for (var i = 0; i < text.Length;)
        {
            offsets.Add(i);
            if (Rune.TryGetRuneAt(text, i, out var rune) && !rune.IsBmp)
            {
                chars.Append(StandInFor(Rune.GetUnicodeCategory(rune)));
                i += 2;
            }
            else
            {
                chars.Append(text[i] == LongS ? 's' : text[i]);
                i++;
            }
        }

        offsets.Add(text.Length);
        return (chars.ToString(), offsets.ToArray());
    }

    // BMP characters of each general category the pattern distinguishes. None is ASCII (so none can complete a
    // contraction such as 's), whitespace, \r, \n or '/'.
    private static char StandInFor(UnicodeCategory category) => category switch
    {
        UnicodeCategory.UppercaseLetter => '\u00C0',
        UnicodeCategory.LowercaseLetter => '\u00E0',
        UnicodeCategory.TitlecaseLetter => '\u01C5',
        UnicodeCategory.ModifierLetter => '\u02B0',
        UnicodeCategory.OtherLetter => '\u00AA',
        UnicodeCategory.NonSpacingMark => '\u0300',
        UnicodeCategory.SpacingCombiningMark => '\u0903',
        UnicodeCategory.EnclosingMark => '\u20DD',
        UnicodeCategory.DecimalDigitNumber => '\u0660',
        UnicodeCategory.LetterNumber => '\u2160',
        UnicodeCategory.OtherNumber => '\u00B2',
        _ => '\u00A6',
    };

    private static int AdvanceCodePoints(string text, int start, int count)
    {
        var i = start;
        for (var n = 0; n < count && i < text.Length; n++)
        {
            i += CodePointLength(text, i);
        }

        return i;
    }

    private static int CodePointLength(string text, int index) =>
        char.IsHighSurrogate(text[index]) && index + 1 < text.Length && char.IsLowSurrogate(text[index + 1]) ? 2 : 1;

    // Python str.isspace: Unicode White_Space plus the information separators U+001C … U+001F.
    private static bool IsPythonSpace(string text, int index)
    {
        var c = text[index];
        return char.IsWhiteSpace(c) || (c >= '\u001C' && c <= '\u001F');
    }
}

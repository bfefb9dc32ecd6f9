using System.Text;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// A synthetic Llama 4-sized vocabulary for measuring guided decoding where the real tokenizer file is not available:
/// 200,000 distinct byte strings (the 256 single bytes, then generated pieces), written as a tiktoken file and loaded with
/// META's 2,048 special tokens after them, so V = 202,048 as in Llama 4. It is not o200k: it imitates its make-up — words
/// and word pieces with and without a leading space and capital, numbers, code and JSON punctuation, whitespace runs,
/// Cyrillic, Greek, accented Latin, CJK and emoji text, and partial UTF-8 sequences — so that the trie's size and shape and
/// the share of tokens a grammar state admits are of the real order. As BPE merges build long tokens from shorter ones, a
/// word's prefixes often are tokens too (here: each prefix of a generated piece with probability one third), which gives the
/// trie about as many nodes per token as a real byte-level BPE vocabulary. Deterministic for a seed.
/// </summary>
public static class BenchmarkVocabulary
{
    /// <summary>Base tokens of Llama 4 (its tokenizer.model).</summary>
    public const int Llama4BaseTokens = 200_000;

    private static readonly string[] Onsets = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
        "br", "ch", "cl", "cr", "dr", "fl", "gr", "pl", "pr", "sh", "sp", "st", "str", "th", "tr", "wh"];

    private static readonly string[] Vowels = ["a", "e", "i", "o", "u", "ai", "ea", "ee", "io", "ou", "y"];

    private static readonly string[] Codas = ["", "", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "nt", "rs", "st", "ck", "ct", "tion", "ing", "ed", "er", "ly"];

    private const string Punctuation = "{}[]()<>:;,.\"'=+-*/\\_!?#@$%&|~^`";

    /// <summary>The token byte strings by rank: 256 single bytes, then <paramref name="count"/> − 256 generated ones.</summary>
    public static List<byte[]> Generate(int count = Llama4BaseTokens, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 256);
        var random = new Random(seed);
        var tokens = new List<byte[]>(count);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var b = 0; b < 256; b++)
        {
            tokens.Add([(byte)b]);
            seen.Add(Encoding.Latin1.GetString([(byte)b]));
        }

        while (tokens.Count < count)
        {
            var piece = Piece(random);
            // Shorter pieces first, as merges would have made them.
            for (var length = 2; length <= piece.Length && tokens.Count < count; length++)
            {
                if ((length == piece.Length || (piece[length] & 0xC0) != 0x80 && random.Next(3) == 0)
                    && seen.Add(Encoding.Latin1.GetString(piece, 0, length)))
                {
                    tokens.Add(piece[..length]);
                }
            }
        }

        return tokens;
    }

    /// <summary>Writes the vocabulary as <c>tokenizer.model</c> in <paramref name="directory"/> and loads it with META's
    /// special tokens after the base ranks.</summary>
    public static Llama4Tokenizer WriteTokenizer(string directory, int baseTokens = Llama4BaseTokens, int seed = 1)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, TiktokenModelFile.FileName);
        TiktokenModelFile.Write(path, Generate(baseTokens, seed));
        return Llama4Tokenizer.LoadTiktokenFile(path);
    }

    private static byte[] Piece(Random random)
    {
        var roll = random.Next(100);
        var text = roll switch
        {
            < 42 => Word(random),
            < 54 => Fragment(random),
            < 60 => Number(random),
            < 72 => Code(random),
            < 76 => Whitespace(random),
            < 97 => Foreign(random),
            _ => null,
        };
        return text is null ? PartialUtf8(random) : Encoding.UTF8.GetBytes(text);
    }

    private static string Word(Random random)
    {
        var sb = new StringBuilder();
        var syllables = 1 + random.Next(random.Next(2) == 0 ? 2 : 4);
        for (var i = 0; i < syllables; i++)
        {
            sb.Append(Onsets[random.Next(Onsets.Length)]).Append(Vowels[random.Next(Vowels.Length)]).Append(Codas[random.Next(Codas.Length)]);
        }

        var word = sb.ToString();
        word = random.Next(5) switch
        {
            0 => char.ToUpperInvariant(word[0]) + word[1..],
            1 when random.Next(8) == 0 => word.ToUpperInvariant(),
            _ => word,
        };
        return random.Next(10) < 7 ? " " + word : word;
    }

    private static string Fragment(Random random)
    {
        var sb = new StringBuilder();
        var length = 1 + random.Next(5);
        for (var i = 0; i < length; i++)
        {
            sb.Append((char)('a' + random.Next(26)));
        }

        return random.Next(3) == 0 ? " " + sb : sb.ToString();
    }

    private static string Number(Random random)
    {
        var n = random.Next(random.Next(2) == 0 ? 1000 : 100);
        return random.Next(3) == 0 ? " " + n : n.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Code(Random random)
    {
        var sb = new StringBuilder();
        var length = 1 + random.Next(4);
        for (var i = 0; i < length; i++)
        {
            sb.Append(Punctuation[random.Next(Punctuation.Length)]);
        }

        return random.Next(6) switch
        {
            0 => " " + sb,
            1 => sb + "\n",
            2 => "\n" + new string(' ', 2 * random.Next(6)) + sb,
            3 => "_" + Fragment(random).Trim() + sb,
            _ => sb.ToString(),
        };
    }

    private static string Whitespace(Random random) => random.Next(4) switch
    {
        0 => new string(' ', 1 + random.Next(80)),
        1 => new string('\t', 1 + random.Next(16)),
        2 => "\n" + new string(' ', random.Next(40)),
        _ => new string('\n', 1 + random.Next(4)) + new string('\t', random.Next(4)),
    };

    private static string Foreign(Random random)
    {
        var (lo, hi, length) = random.Next(6) switch
        {
            0 => (0x4E00, 0x9FFF, 1 + random.Next(3)), // CJK
            1 => (0x0430, 0x044F, 2 + random.Next(6)), // Cyrillic
            2 => (0x03B1, 0x03C9, 2 + random.Next(5)), // Greek
            3 => (0x00E0, 0x00FF, 1 + random.Next(2)), // accented Latin (mixed into a word below)
            4 => (0x0621, 0x064A, 2 + random.Next(5)), // Arabic
            _ => (0x1F300, 0x1F5FF, 1), // emoji
        };
        var sb = new StringBuilder();
        for (var i = 0; i < length; i++)
        {
            sb.Append(char.ConvertFromUtf32(lo + random.Next(hi - lo + 1)));
        }

        var text = lo == 0x00E0 ? Fragment(random).Trim() + sb + Fragment(random).Trim() : sb.ToString();
        return random.Next(2) == 0 ? " " + text : text;
    }

    /// <summary>The first one or two bytes of a multi-byte character (byte-level BPE keeps such pieces).</summary>
    private static byte[] PartialUtf8(Random random)
    {
        var full = Encoding.UTF8.GetBytes(char.ConvertFromUtf32(0x4E00 + random.Next(0x5200)));
        return full[..(1 + random.Next(2))];
    }
}

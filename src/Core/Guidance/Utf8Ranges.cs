using System.Text;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// Turns a range of Unicode scalar values into the byte-range sequences of their UTF-8 encodings (the construction of
/// RE2 and Rust's regex-syntax): each sequence is one to four byte ranges, and the sequences together match exactly the
/// encodings of the range (surrogates excluded).
/// </summary>
internal static class Utf8Ranges
{
    public const int MaxScalar = 0x10FFFF;

    /// <summary>The sequences for [<paramref name="lo"/>, <paramref name="hi"/>].</summary>
    public static List<(byte Lo, byte Hi)[]> Sequences(int lo, int hi)
    {
        var output = new List<(byte Lo, byte Hi)[]>();
        Split(lo, hi, output);
        return output;
    }

    /// <summary>A fragment matching any one scalar in the given ranges.</summary>
    public static Fragment Fragment(GrammarBuilder builder, IEnumerable<(int Lo, int Hi)> ranges)
    {
        var s = builder.NewNode();
        var e = builder.NewNode();
        foreach (var (lo, hi) in ranges)
        {
            foreach (var seq in Sequences(lo, hi))
            {
                var piece = builder.Seq([.. seq.Select(r => builder.Range(r.Lo, r.Hi))]);
                builder.Epsilon(s, piece.Start);
                builder.Epsilon(piece.End, e);
            }
        }

        return new Fragment(s, e);
    }

    private static void Split(int lo, int hi, List<(byte, byte)[]> output)
    {
        if (lo > hi)
        {
            return;
        }

        if (lo <= 0xDFFF && hi >= 0xD800)
        {
            Split(lo, 0xD7FF, output);
            Split(0xE000, hi, output);
            return;
        }

        foreach (var boundary in (ReadOnlySpan<int>)[0x7F, 0x7FF, 0xFFFF])
        {
            if (lo <= boundary && hi > boundary)
            {
                Split(lo, boundary, output);
                Split(boundary + 1, hi, output);
                return;
            }
        }

        if (hi <= 0x7F)
        {
            output.Add([((byte)lo, (byte)hi)]);
            return;
        }

        var length = Encode(lo).Length;
        for (var i = 1; i < length; i++)
        {
            var mask = (1 << (6 * i)) - 1;
            if ((lo & ~mask) != (hi & ~mask))
            {
                if ((lo & mask) != 0)
                {
                    Split(lo, lo | mask, output);
                    Split((lo | mask) + 1, hi, output);
                    return;
                }

                if ((hi & mask) != mask)
                {
                    Split(lo, (hi & ~mask) - 1, output);
                    Split(hi & ~mask, hi, output);
                    return;
                }
            }
        }

        var a = Encode(lo);
        var b = Encode(hi);
        var seq = new (byte, byte)[a.Length];
        for (var i = 0; i < a.Length; i++)
        {
            seq[i] = (a[i], b[i]);
        }

        output.Add(seq);
    }

    private static byte[] Encode(int scalar) => Encoding.UTF8.GetBytes(char.ConvertFromUtf32(scalar));
}

namespace Llama4Cluster.Core.Tools;

/// <summary>
/// A position in model output that may still be growing. Running out of text is <see cref="Scan.More"/> while more can
/// come, and <see cref="Scan.Bad"/> once the output is <see cref="Final"/>. Nesting is bounded by <see cref="MaxDepth"/>
/// so that hostile output cannot exhaust the stack.
/// </summary>
internal sealed class TextCursor(string text, int position, bool final)
{
    /// <summary>Deepest nesting of lists, objects and calls accepted (System.Text.Json's default reader depth).</summary>
    public const int MaxDepth = 64;

    public string Text { get; } = text;

    public int Pos { get; set; } = position;

    public bool Final { get; } = final;

    public int Depth { get; set; }

    public bool AtEnd => Pos >= Text.Length;

    /// <summary>The current character, or '\0' at the end.</summary>
    public char Peek => Pos < Text.Length ? Text[Pos] : '\0';

    public char PeekAt(int offset) => Pos + offset < Text.Length ? Text[Pos + offset] : '\0';

    /// <summary>What running out of text means here: more may come, or the output ended inside the piece.</summary>
    public Scan Eof() => Final ? Scan.Bad : Scan.More;

    /// <summary>Skips JSON/Python whitespace between tokens (space, tab, newlines, form feed).</summary>
    public void SkipWhitespace()
    {
        while (Pos < Text.Length && Text[Pos] is ' ' or '\t' or '\n' or '\r' or '\f')
        {
            Pos++;
        }
    }

    /// <summary>Consumes <paramref name="literal"/> when the text continues with it; <see cref="Scan.More"/> when the text
    /// ends inside a prefix of it.</summary>
    public Scan Literal(string literal)
    {
        var available = Math.Min(literal.Length, Text.Length - Pos);
        if (string.CompareOrdinal(Text, Pos, literal, 0, available) != 0)
        {
            return Scan.Bad;
        }

        if (available < literal.Length)
        {
            return Eof();
        }

        Pos += literal.Length;
        return Scan.Ok;
    }

    /// <summary>
    /// Steps to the next element of a comma-separated sequence that <paramref name="close"/> ends, a trailing comma allowed
    /// (Python's rule): skips whitespace and, unless it is the <paramref name="first"/> element, the comma before it.
    /// <see cref="Scan.Ok"/> with <paramref name="closed"/> when the sequence ended here (<paramref name="close"/>
    /// consumed); <see cref="Scan.Ok"/> without it when an element follows; <see cref="Scan.Bad"/> when no comma separates.
    /// </summary>
    public Scan NextElement(char close, bool first, out bool closed)
    {
        closed = false;
        SkipWhitespace();
        if (AtEnd)
        {
            return Eof();
        }

        if (Peek == close)
        {
            Pos++;
            closed = true;
            return Scan.Ok;
        }

        if (first)
        {
            return Scan.Ok;
        }

        if (Peek != ',')
        {
            return Scan.Bad;
        }

        Pos++;
        SkipWhitespace();
        if (AtEnd)
        {
            return Eof();
        }

        if (Peek == close)
        {
            Pos++;
            closed = true;
        }

        return Scan.Ok;
    }

    /// <summary>Enters one level of nesting; false beyond <see cref="MaxDepth"/>.</summary>
    public bool Enter() => ++Depth <= MaxDepth;

    public void Leave() => Depth--;
}

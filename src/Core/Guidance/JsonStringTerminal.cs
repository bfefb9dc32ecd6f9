namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// A JSON string, quotes included, of <see cref="MinLength"/> to <see cref="MaxLength"/> characters (code points; an
/// escape counts as one). Valid UTF-8 only (no overlong forms, no surrogates), no raw control characters, and
/// <c>\u</c> escapes of surrogates refused, so the text always decodes and parses.
/// </summary>
/// <remarks>
/// State: the phase in the low 5 bits, the characters read so far above them. The count saturates at the largest value
/// that still matters (<see cref="MaxLength"/>, or <see cref="MinLength"/> when unbounded), so an unbounded string has a
/// handful of states and its token masks are cached.
/// </remarks>
internal sealed class JsonStringTerminal : IByteTerminal
{
    private const int Open = 0;
    private const int In = 1;
    private const int Cont1 = 2;
    private const int Cont2 = 3;
    private const int Cont3 = 4;
    private const int AfterE0 = 5;
    private const int AfterED = 6;
    private const int AfterF0 = 7;
    private const int AfterF4 = 8;
    private const int Escape = 9;
    private const int Hex1 = 10;
    private const int Hex1D = 11;
    private const int Hex2 = 12;
    private const int Hex3 = 13;
    private const int Hex4 = 14;
    private const int Closed = 15;

    private readonly int _saturate;

    public JsonStringTerminal(int minLength, int? maxLength)
    {
        MinLength = minLength;
        MaxLength = maxLength;
        _saturate = maxLength ?? minLength;
    }

    public int MinLength { get; }

    public int? MaxLength { get; }

    public bool Accepts(int state) => (state & 31) == Closed;

    /// <summary>At a character boundary inside the string: how many more characters fit (<see cref="int.MaxValue"/> when
    /// unbounded); elsewhere -1. A token of that many plain characters or fewer is accepted here whatever follows.</summary>
    public int Remaining(int state) =>
        (state & 31) != In ? -1 : MaxLength is { } max ? max - (state >> 5) : int.MaxValue;

    public bool CanContinue(int state) => (state & 31) != Closed;

    public int Step(int state, byte b)
    {
        var phase = state & 31;
        var count = state >> 5;
        return phase switch
        {
            Open => b == '"' ? In : -1,
            In => FromBoundary(count, b),
            Cont1 => b is >= 0x80 and <= 0xBF ? Make(In, count) : -1,
            Cont2 => b is >= 0x80 and <= 0xBF ? Make(Cont1, count) : -1,
            Cont3 => b is >= 0x80 and <= 0xBF ? Make(Cont2, count) : -1,
            AfterE0 => b is >= 0xA0 and <= 0xBF ? Make(Cont1, count) : -1,
            AfterED => b is >= 0x80 and <= 0x9F ? Make(Cont1, count) : -1,
            AfterF0 => b is >= 0x90 and <= 0xBF ? Make(Cont2, count) : -1,
            AfterF4 => b is >= 0x80 and <= 0x8F ? Make(Cont2, count) : -1,
            Escape => b switch
            {
                (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t' => Make(In, count),
                (byte)'u' => Make(Hex1, count),
                _ => -1,
            },
            Hex1 => b is (byte)'d' or (byte)'D' ? Make(Hex1D, count) : IsHex(b) ? Make(Hex2, count) : -1,
            Hex1D => b is >= (byte)'0' and <= (byte)'7' ? Make(Hex3, count) : -1, // \uD800-\uDFFF (surrogates) refused
            Hex2 => IsHex(b) ? Make(Hex3, count) : -1,
            Hex3 => IsHex(b) ? Make(Hex4, count) : -1,
            Hex4 => IsHex(b) ? Make(In, count) : -1,
            _ => -1,
        };
    }

    /// <summary>At a character boundary: the closing quote, or the first byte of one more character.</summary>
    private int FromBoundary(int count, byte b)
    {
        if (b == '"')
        {
            return count >= MinLength ? Closed : -1;
        }

        if (MaxLength is { } max && count >= max)
        {
            return -1;
        }

        var next = Math.Min(count + 1, _saturate);
        return b switch
        {
            (byte)'\\' => Make(Escape, next),
            < 0x20 => -1,
            < 0x80 => Make(In, next),
            >= 0xC2 and <= 0xDF => Make(Cont1, next),
            0xE0 => Make(AfterE0, next),
            0xED => Make(AfterED, next),
            >= 0xE1 and <= 0xEF => Make(Cont2, next),
            0xF0 => Make(AfterF0, next),
            >= 0xF1 and <= 0xF3 => Make(Cont3, next),
            0xF4 => Make(AfterF4, next),
            _ => -1,
        };
    }

    private static int Make(int phase, int count) => (count << 5) | phase;

    private static bool IsHex(byte b) => b is >= (byte)'0' and <= (byte)'9' or >= (byte)'a' and <= (byte)'f' or >= (byte)'A' and <= (byte)'F';
}

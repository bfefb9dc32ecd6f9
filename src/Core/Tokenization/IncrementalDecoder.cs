using System.Text;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// Streaming detokeniser for one generated sequence: returns the text each new token completes. Bytes of a
/// multi-byte UTF-8 character that arrive split across tokens are held back until the character is complete, so no
/// U+FFFD appears mid-stream; bytes that can never form a character still become U+FFFD. Not thread-safe.
/// </summary>
public sealed class IncrementalDecoder
{
    private readonly Llama4Tokenizer _tokenizer;
    private readonly bool _skipSpecialTokens;
    private readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
    private readonly List<byte> _bytes = [];

    internal IncrementalDecoder(Llama4Tokenizer tokenizer, bool skipSpecialTokens)
    {
        _tokenizer = tokenizer;
        _skipSpecialTokens = skipSpecialTokens;
    }

    /// <summary>Adds one token; returns the newly completed text (possibly empty).</summary>
    public string Add(int id)
    {
        _bytes.Clear();
        _tokenizer.AppendBytes(id, _skipSpecialTokens, _bytes);
        return Convert(flush: false);
    }

    /// <summary>Ends the stream: any incomplete character left over becomes U+FFFD.</summary>
    public string Flush()
    {
        _bytes.Clear();
        return Convert(flush: true);
    }

    private string Convert(bool flush)
    {
        var bytes = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_bytes);
        var chars = new char[_decoder.GetCharCount(bytes, flush) + 1];
        var count = _decoder.GetChars(bytes, chars, flush);
        return new string(chars, 0, count);
    }
}

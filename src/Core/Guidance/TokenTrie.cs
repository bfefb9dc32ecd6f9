using System.Text;
using System.Text.Unicode;
using Llama4Cluster.Core.Tokenization;

namespace Llama4Cluster.Core.Guidance;

/// <summary>
/// The vocabulary's text tokens as a byte-prefix tree laid flat in depth-first order (llguidance's toktrie layout): node i
/// has its byte, its depth and the index just past its subtree, so a walk is one forward loop that skips a whole subtree
/// with one assignment when its first byte is refused. Built once per tokenizer; immutable and thread-safe afterwards.
/// </summary>
/// <remarks>
/// Special tokens (and ids beyond the tokenizer, such as a checkpoint's padded embedding rows) are not in the tree: they
/// are never allowed as text; the sampler adds the stop tokens itself when the grammar accepts. For Llama 4 the tree has
/// about two nodes per token, a few MB in all.
/// <para>The context-independent cache (xgrammar's idea, for the state that dominates JSON output): most tokens are
/// <em>plain</em> text — whole UTF-8 characters, none of them a quote, backslash or control character — and inside a
/// JSON string such a token is accepted exactly when its characters fit in the room left, whatever the grammar around the
/// string. <see cref="PlainUpTo"/> holds, per character count, the mask of plain tokens that short; the other tokens get a
/// tree of their own (<see cref="Impure"/>, a few percent of the vocabulary), which is all a string state has to walk.</para>
/// </remarks>
public sealed class TokenTrie
{
    private readonly byte[] _bytes;
    private readonly ushort[] _depth;
    private readonly int[] _end;
    private readonly int[] _token;
    private readonly int[] _sameBytes;
    private readonly byte[]?[] _tokenBytes;
    private ulong[][] _plainUpTo = [];

    /// <summary>Most characters a token may have to count as plain (longer ones go in <see cref="Impure"/>).</summary>
    public const int MaxPlainChars = 32;

    private TokenTrie(int vocabularySize, byte[]?[] tokenBytes, byte[] bytes, ushort[] depth, int[] end, int[] token, int[] sameBytes, int maxDepth)
    {
        VocabularySize = vocabularySize;
        _tokenBytes = tokenBytes;
        _bytes = bytes;
        _depth = depth;
        _end = end;
        _token = token;
        _sameBytes = sameBytes;
        MaxDepth = maxDepth;
    }

    /// <summary>Ids the masks cover: the model's vocabulary (logits per step).</summary>
    public int VocabularySize { get; }

    /// <summary>Nodes, the root included.</summary>
    public int NodeCount => _bytes.Length;

    /// <summary>Longest token in bytes.</summary>
    public int MaxDepth { get; }

    /// <summary>The tree of the text tokens that are not plain (null on that tree itself).</summary>
    internal TokenTrie? Impure { get; private set; }

    /// <summary>The mask of plain tokens of 1 to <paramref name="chars"/> characters.</summary>
    internal ulong[] PlainUpTo(int chars) => _plainUpTo[Math.Clamp(chars, 0, MaxPlainChars)];

    /// <summary>Words of a mask over <see cref="VocabularySize"/> ids, 64 ids a word.</summary>
    public int MaskWords => (VocabularySize + 63) >> 6;

    internal ReadOnlySpan<byte> Bytes => _bytes;

    internal ReadOnlySpan<ushort> Depth => _depth;

    internal ReadOnlySpan<int> End => _end;

    internal ReadOnlySpan<int> Token => _token;

    /// <summary>For a token id, the next id with the same bytes (-1 for none): duplicates share a node.</summary>
    internal ReadOnlySpan<int> SameBytes => _sameBytes;

    /// <summary>The text bytes of <paramref name="id"/>, or null for a special or unknown id.</summary>
    public byte[]? TokenBytes(int id) => id >= 0 && id < _tokenBytes.Length ? _tokenBytes[id] : null;

    /// <summary>The tree of a tokenizer's base tokens over a model vocabulary of <paramref name="vocabularySize"/> ids
    /// (the tokenizer's own size when null).</summary>
    public static TokenTrie FromTokenizer(Llama4Tokenizer tokenizer, int? vocabularySize = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        var size = vocabularySize ?? tokenizer.VocabSize;
        var bytes = new byte[]?[size];
        for (var id = 0; id < Math.Min(size, tokenizer.VocabSize); id++)
        {
            if (!tokenizer.IsSpecial(id))
            {
                bytes[id] = tokenizer.GetTokenBytes(id).ToArray();
            }
        }

        return Build(bytes);
    }

    /// <summary>The tree of <paramref name="tokenBytes"/> (index = id; null or empty: not a text token), with its plain
    /// masks and the tree of the other tokens.</summary>
    public static TokenTrie Build(byte[]?[] tokenBytes)
    {
        ArgumentNullException.ThrowIfNull(tokenBytes);
        var trie = BuildTree(tokenBytes);
        var words = trie.MaskWords;
        var byCount = new ulong[MaxPlainChars + 1][];
        byCount[0] = new ulong[words];
        for (var c = 1; c <= MaxPlainChars; c++)
        {
            byCount[c] = new ulong[words];
        }

        var impure = new byte[]?[tokenBytes.Length];
        for (var id = 0; id < tokenBytes.Length; id++)
        {
            if (tokenBytes[id] is not { Length: > 0 } bytes)
            {
                continue;
            }

            var chars = PlainChars(bytes);
            if (chars == 0)
            {
                impure[id] = bytes;
            }
            else
            {
                byCount[chars][id >> 6] |= 1UL << id;
            }
        }

        for (var c = 1; c <= MaxPlainChars; c++)
        {
            for (var w = 0; w < words; w++)
            {
                byCount[c][w] |= byCount[c - 1][w];
            }
        }

        trie._plainUpTo = byCount;
        trie.Impure = BuildTree(impure);
        return trie;
    }

    /// <summary>The characters of a plain token (see the remarks), or 0.</summary>
    internal static int PlainChars(ReadOnlySpan<byte> bytes)
    {
        if (!Utf8.IsValid(bytes))
        {
            return 0;
        }

        var count = 0;
        while (!bytes.IsEmpty)
        {
            Rune.DecodeFromUtf8(bytes, out var rune, out var consumed);
            if (rune.Value < 0x20 || rune.Value == '"' || rune.Value == '\\')
            {
                return 0;
            }

            count++;
            bytes = bytes[consumed..];
        }

        return count <= MaxPlainChars ? count : 0;
    }

    private static TokenTrie BuildTree(byte[]?[] tokenBytes)
    {
        var ids = Enumerable.Range(0, tokenBytes.Length).Where(i => tokenBytes[i] is { Length: > 0 }).ToArray();
        System.Array.Sort(ids, (a, b) => tokenBytes[a].AsSpan().SequenceCompareTo(tokenBytes[b]) is var c && c != 0 ? c : a.CompareTo(b));

        var bytes = new List<byte> { 0 };
        var depth = new List<ushort> { 0 };
        var token = new List<int> { -1 };
        var end = new List<int> { 0 };
        var sameBytes = new int[tokenBytes.Length];
        sameBytes.AsSpan().Fill(-1);
        var path = new List<int> { 0 }; // node index per depth along the current branch
        byte[] previous = [];
        var maxDepth = 0;
        foreach (var id in ids)
        {
            var current = tokenBytes[id]!;
            var common = CommonPrefix(previous, current);
            if (common == current.Length && common == previous.Length)
            {
                // Same bytes as the previous token: chain it to the node's token.
                var node = path[^1];
                sameBytes[id] = sameBytes[token[node]];
                sameBytes[token[node]] = id;
                continue;
            }

            while (path.Count - 1 > common)
            {
                end[path[^1]] = bytes.Count;
                path.RemoveAt(path.Count - 1);
            }

            for (var d = common; d < current.Length; d++)
            {
                bytes.Add(current[d]);
                depth.Add(checked((ushort)(d + 1)));
                token.Add(-1);
                end.Add(0);
                path.Add(bytes.Count - 1);
            }

            token[path[^1]] = id;
            maxDepth = Math.Max(maxDepth, current.Length);
            previous = current;
        }

        while (path.Count > 0)
        {
            end[path[^1]] = bytes.Count;
            path.RemoveAt(path.Count - 1);
        }

        return new TokenTrie(tokenBytes.Length, tokenBytes, [.. bytes], [.. depth], [.. end], [.. token], sameBytes, maxDepth);
    }

    private static int CommonPrefix(byte[] a, byte[] b)
    {
        var n = Math.Min(a.Length, b.Length);
        var i = 0;
        while (i < n && a[i] == b[i])
        {
            i++;
        }

        return i;
    }
}

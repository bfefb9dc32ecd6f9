using System.Buffers;
using System.Collections.Concurrent;
using System.Text;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// tiktoken's byte-level BPE over a rank table (token bytes → rank = id): a piece that is itself a token maps to it
/// directly; otherwise start from single bytes and repeatedly merge the adjacent pair whose concatenation has the lowest
/// rank (leftmost on ties) until no adjacent pair is a token. A port of tiktoken's <c>byte_pair_merge</c>.
/// </summary>
/// <remarks>
/// Byte strings are keyed as Latin-1 strings (one char per byte) so lookups can use spans without allocating.
/// Results for short pieces are cached; the cache is thread-safe and bounded.
/// </remarks>
internal sealed class BytePairEncoder
{
    private const int MaxCachedPieceLength = 128;
    private const int MaxCacheEntries = 200_000;

    private readonly Dictionary<string, int> _ranks;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly byte[]?[] _bytesById;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);

    /// <param name="ranks">Latin-1 keyed token bytes → rank (= token id).</param>
    public BytePairEncoder(Dictionary<string, int> ranks)
    {
        _ranks = ranks;
        _lookup = ranks.GetAlternateLookup<ReadOnlySpan<char>>();
        var maxRank = ranks.Count == 0 ? -1 : ranks.Values.Max();
        _bytesById = new byte[]?[maxRank + 1];
        foreach (var (key, rank) in ranks)
        {
            _bytesById[rank] = Encoding.Latin1.GetBytes(key);
        }
    }

    /// <summary>Number of base tokens (ranks).</summary>
    public int Count => _ranks.Count;

    /// <summary>One past the largest rank.</summary>
    public int IdLimit => _bytesById.Length;

    /// <summary>The bytes of base token <paramref name="id"/>, or null when it is not a base token.</summary>
    public byte[]? GetBytes(int id) => id >= 0 && id < _bytesById.Length ? _bytesById[id] : null;

    /// <summary>Converts bytes to the Latin-1 key form used by the rank table.</summary>
    public static string ToKey(ReadOnlySpan<byte> bytes) => Encoding.Latin1.GetString(bytes);

    /// <summary>Appends the ids of one pre-tokenised piece.</summary>
    public void EncodePiece(string piece, List<int> output)
    {
        if (piece.Length == 0)
        {
            return;
        }

        if (_cache.TryGetValue(piece, out var cached))
        {
            output.AddRange(cached);
            return;
        }

        var byteCount = Encoding.UTF8.GetByteCount(piece);
        var rented = ArrayPool<byte>.Shared.Rent(byteCount);
        var rentedChars = ArrayPool<char>.Shared.Rent(byteCount);
        try
        {
            var bytes = rented.AsSpan(0, Encoding.UTF8.GetBytes(piece, rented));
            var key = rentedChars.AsSpan(0, bytes.Length);
            for (var i = 0; i < bytes.Length; i++)
            {
                key[i] = (char)bytes[i];
            }

            int[] ids;
            if (_lookup.TryGetValue(key, out var whole))
            {
                ids = [whole];
            }
            else
            {
                ids = Merge(key, piece);
            }

            output.AddRange(ids);
            if (piece.Length <= MaxCachedPieceLength)
            {
                if (_cache.Count >= MaxCacheEntries)
                {
                    _cache.Clear();
                }

                _cache.TryAdd(piece, ids);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(rented);
            ArrayPool<char>.Shared.Return(rentedChars);
        }
    }

    private int[] Merge(ReadOnlySpan<char> key, string piece)
    {
        // parts[i] = (start offset of part i, rank of parts i and i+1 merged). The two sentinels at the end keep the
        // window arithmetic of tiktoken's implementation.
        var n = key.Length;
        var starts = new int[n + 1];
        var ranks = new int[n + 1];
        var count = n + 1;
        for (var i = 0; i < n - 1; i++)
        {
            starts[i] = i;
            ranks[i] = RankOf(key.Slice(i, 2));
        }

        starts[n - 1] = n - 1;
        ranks[n - 1] = int.MaxValue;
        starts[n] = n;
        ranks[n] = int.MaxValue;

        while (true)
        {
            var minRank = int.MaxValue;
            var minIndex = -1;
            for (var i = 0; i < count - 1; i++)
            {
                if (ranks[i] < minRank)
                {
                    minRank = ranks[i];
                    minIndex = i;
                }
            }

            if (minIndex < 0)
            {
                break;
            }

            // Merge parts minIndex and minIndex+1: recompute the ranks of the pairs now ending/starting there.
            if (minIndex > 0)
            {
                ranks[minIndex - 1] = WindowRank(key, starts, count, minIndex - 1);
            }

            ranks[minIndex] = WindowRank(key, starts, count, minIndex);
            Array.Copy(starts, minIndex + 2, starts, minIndex + 1, count - minIndex - 2);
            Array.Copy(ranks, minIndex + 2, ranks, minIndex + 1, count - minIndex - 2);
            count--;
        }

        var ids = new int[count - 1];
        for (var i = 0; i < count - 1; i++)
        {
            var part = key[starts[i]..starts[i + 1]];
            if (!_lookup.TryGetValue(part, out ids[i]))
            {
                throw new InvalidOperationException(
                    $"The tokenizer has no token for byte 0x{(int)part[0]:X2} (in piece \"{piece}\"); a byte-level BPE " +
                    "table must contain all 256 single bytes.");
            }
        }

        return ids;
    }

    // Rank of parts[i] merged with parts[i+1] after parts[i+1] and parts[i+2] merge, i.e. bytes
    // starts[i] .. starts[i+3], evaluated before the removal (tiktoken's get_rank).
    private int WindowRank(ReadOnlySpan<char> key, int[] starts, int count, int i) =>
        i + 3 < count ? RankOf(key[starts[i]..starts[i + 3]]) : int.MaxValue;

    private int RankOf(ReadOnlySpan<char> bytes) => _lookup.TryGetValue(bytes, out var rank) ? rank : int.MaxValue;
}

using System.Text;

namespace Llama4Cluster.Core.Tokenization;

/// <summary>
/// Reads a tiktoken BPE file (<c>tokenizer.model</c>): one line per token, <c>base64(token bytes) rank</c>.
/// </summary>
internal static class TiktokenModelFile
{
    public const string FileName = "tokenizer.model";

    /// <summary>Token bytes (Latin-1 keyed) → rank.</summary>
    public static Dictionary<string, int> Read(string path)
    {
        if (!File.Exists(path))
        {
            throw new TokenizerFormatException(path, "file not found.");
        }

        var ranks = new Dictionary<string, int>(StringComparer.Ordinal);
        var seenRanks = new HashSet<int>();
        using var reader = new StreamReader(path, Encoding.UTF8);
        var lineNumber = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNumber++;
            if (line.Length == 0)
            {
                continue;
            }

            var space = line.IndexOf(' ', StringComparison.Ordinal);
            if (space <= 0 || space != line.LastIndexOf(' '))
            {
                throw new TokenizerFormatException(path, $"line {lineNumber}: expected \"<base64 token> <rank>\", got \"{Shorten(line)}\".");
            }

            byte[] bytes;
            try
            {
                bytes = Convert.FromBase64String(line[..space]);
            }
            catch (FormatException e)
            {
                throw new TokenizerFormatException(path, $"line {lineNumber}: token \"{Shorten(line[..space])}\" is not valid base64.", e);
            }

            if (bytes.Length == 0)
            {
                throw new TokenizerFormatException(path, $"line {lineNumber}: empty token.");
            }

            if (!int.TryParse(line.AsSpan(space + 1), System.Globalization.NumberStyles.None, null, out var rank))
            {
                throw new TokenizerFormatException(path, $"line {lineNumber}: rank \"{Shorten(line[(space + 1)..])}\" is not a non-negative integer.");
            }

            if (!seenRanks.Add(rank))
            {
                throw new TokenizerFormatException(path, $"line {lineNumber}: rank {rank} appears twice.");
            }

            if (!ranks.TryAdd(BytePairEncoder.ToKey(bytes), rank))
            {
                throw new TokenizerFormatException(path, $"line {lineNumber}: token \"{line[..space]}\" appears twice.");
            }
        }

        if (ranks.Count == 0)
        {
            throw new TokenizerFormatException(path, "the file has no tokens.");
        }

        return ranks;
    }

    /// <summary>Writes ranks in rank order (the format META ships).</summary>
    public static void Write(string path, IReadOnlyList<byte[]> tokensByRank)
    {
        var builder = new StringBuilder();
        for (var rank = 0; rank < tokensByRank.Count; rank++)
        {
            builder.Append(Convert.ToBase64String(tokensByRank[rank])).Append(' ').Append(rank).Append('\n');
        }

        File.WriteAllText(path, builder.ToString(), new UTF8Encoding(false));
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}

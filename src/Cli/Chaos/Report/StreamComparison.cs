namespace Llama4Cluster.Cli.Chaos.Report;

/// <summary>How a stream's tokens differ from the fault-free run's: counts over a longest-common-subsequence alignment.</summary>
/// <param name="Matched">Tokens of the fault-free run that the stream delivered, in order.</param>
/// <param name="Lost">Tokens of the fault-free run the stream never delivered (a stream cut short loses the rest).</param>
/// <param name="Duplicated">Extra tokens that repeat a stretch the stream had already delivered (a replay after a failover).</param>
/// <param name="Changed">Extra tokens that are no such repeat: different tokens.</param>
public readonly record struct StreamDiff(int Matched, int Lost, int Duplicated, int Changed)
{
    public bool Same => Lost == 0 && Duplicated == 0 && Changed == 0;
}

/// <summary>Compares a stream's tokens with the fault-free run's.</summary>
public static class StreamComparison
{
    /// <summary>
    /// Aligns <paramref name="actual"/> with <paramref name="expected"/> by a longest common subsequence that matches the
    /// earliest delivered tokens first, then sorts every unmatched stretch of <paramref name="actual"/>: a stretch that occurs
    /// in the part of <paramref name="expected"/> already delivered before it is duplicated, any other is changed.
    /// </summary>
    public static StreamDiff Compare(IReadOnlyList<string> expected, IReadOnlyList<string> actual)
    {
        ArgumentNullException.ThrowIfNull(expected);
        ArgumentNullException.ThrowIfNull(actual);
        var matchedIn = Align(expected, actual); // for each actual token: the expected index it matches, or -1
        int matched = 0, duplicated = 0, changed = 0, delivered = 0;
        for (int j = 0; j < actual.Count;)
        {
            if (matchedIn[j] >= 0)
            {
                matched++;
                delivered = matchedIn[j] + 1;
                j++;
                continue;
            }
            int end = j;
            while (end < actual.Count && matchedIn[end] < 0) end++;
            if (OccursIn(expected, delivered, actual, j, end - j)) duplicated += end - j;
            else changed += end - j;
            j = end;
        }
        return new StreamDiff(matched, expected.Count - matched, duplicated, changed);
    }

    /// <summary>For each token of <paramref name="b"/>, the index in <paramref name="a"/> it is aligned with, or -1.</summary>
    private static int[] Align(IReadOnlyList<string> a, IReadOnlyList<string> b)
    {
        var result = new int[b.Count];
        Array.Fill(result, -1);
        // The common prefix and suffix align one to one (the usual case: everything, or all but a stretch around the fault).
        int prefix = 0;
        while (prefix < a.Count && prefix < b.Count && a[prefix] == b[prefix])
        {
            result[prefix] = prefix;
            prefix++;
        }
        int suffix = 0;
        while (suffix < a.Count - prefix && suffix < b.Count - prefix && a[a.Count - 1 - suffix] == b[b.Count - 1 - suffix])
        {
            result[b.Count - 1 - suffix] = a.Count - 1 - suffix;
            suffix++;
        }
        int n = a.Count - prefix - suffix, m = b.Count - prefix - suffix;
        if (n == 0 || m == 0) return result;
        // lcs[i, j]: the longest common subsequence of a[prefix + i ..] and b[prefix + j ..] within the middle part.
        var lcs = new int[n + 1, m + 1];
        for (int i = n - 1; i >= 0; i--)
            for (int j = m - 1; j >= 0; j--)
                lcs[i, j] = a[prefix + i] == b[prefix + j] ? lcs[i + 1, j + 1] + 1 : Math.Max(lcs[i + 1, j], lcs[i, j + 1]);
        for (int i = 0, j = 0; i < n && j < m;)
        {
            // Matching equal tokens at once is always optimal, and keeps the first delivery of a repeated stretch matched.
            if (a[prefix + i] == b[prefix + j])
            {
                result[prefix + j] = prefix + i;
                i++;
                j++;
            }
            else if (lcs[i, j + 1] >= lcs[i + 1, j]) j++;
            else i++;
        }
        return result;
    }

    /// <summary>Whether <paramref name="b"/>[start, start + length) occurs contiguously in <paramref name="a"/>[0, limit).</summary>
    private static bool OccursIn(IReadOnlyList<string> a, int limit, IReadOnlyList<string> b, int start, int length)
    {
        for (int from = 0; from + length <= limit; from++)
        {
            int k = 0;
            while (k < length && a[from + k] == b[start + k]) k++;
            if (k == length) return true;
        }
        return false;
    }
}

namespace Llama4Cluster.Core.Guidance;

/// <summary>The parsed form of a regular expression (<see cref="RegexParser"/>), emitted by <see cref="RegexEmitter"/>.</summary>
internal abstract record RegexNode;

/// <summary>One scalar value out of a set of ranges (sorted, disjoint).</summary>
internal sealed record RegexSet(IReadOnlyList<(int Lo, int Hi)> Ranges) : RegexNode
{
    public static RegexSet Of(params (int Lo, int Hi)[] ranges) => new(Normalize(ranges));

    public bool Contains(int scalar) => Ranges.Any(r => r.Lo <= scalar && scalar <= r.Hi);

    /// <summary>Every scalar value not in <paramref name="ranges"/>.</summary>
    public static RegexSet Complement(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var result = new List<(int, int)>();
        var next = 0;
        foreach (var (lo, hi) in Normalize(ranges))
        {
            if (lo > next)
            {
                result.Add((next, lo - 1));
            }

            next = Math.Max(next, hi + 1);
        }

        if (next <= Utf8Ranges.MaxScalar)
        {
            result.Add((next, Utf8Ranges.MaxScalar));
        }

        return new RegexSet(result);
    }

    /// <summary>Sorted, merged ranges.</summary>
    public static List<(int Lo, int Hi)> Normalize(IEnumerable<(int Lo, int Hi)> ranges)
    {
        var result = new List<(int Lo, int Hi)>();
        foreach (var (lo, hi) in ranges.OrderBy(r => r.Lo))
        {
            if (result.Count > 0 && lo <= result[^1].Hi + 1)
            {
                result[^1] = (result[^1].Lo, Math.Max(result[^1].Hi, hi));
            }
            else
            {
                result.Add((lo, hi));
            }
        }

        return result;
    }
}

internal sealed record RegexConcat(IReadOnlyList<RegexNode> Items) : RegexNode;

internal sealed record RegexAlternation(IReadOnlyList<RegexNode> Options) : RegexNode;

/// <summary><see cref="Body"/> repeated <see cref="Min"/> to <see cref="Max"/> times (null: unbounded).</summary>
internal sealed record RegexRepeat(RegexNode Body, int Min, int? Max) : RegexNode;

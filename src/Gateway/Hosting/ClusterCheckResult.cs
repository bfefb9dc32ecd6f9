using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>One readiness check after start-up: the attention ranks and expert shards that did not answer, each with why,
/// and when the check ended.</summary>
public sealed record ClusterCheckResult(
    IReadOnlyDictionary<int, string> MissingRanks, IReadOnlyDictionary<ExpertShardKey, string> MissingShards, DateTimeOffset At)
{
    /// <summary>How <c>/ready</c> names a rank.</summary>
    public static string RankName(int rank) => $"attention rank {rank}";

    /// <summary>How <c>/ready</c> names a shard (its grain key, <c>layer/shard</c>).</summary>
    public static string ShardName(ExpertShardKey key) => $"expert shard {key.Format()}";

    public bool AllAnswered => MissingRanks.Count == 0 && MissingShards.Count == 0;

    /// <summary>Every missing rank and shard, ranks first, in order.</summary>
    public IReadOnlyList<string> MissingNames() =>
    [
        .. MissingRanks.Keys.Order().Select(RankName),
        .. MissingShards.Keys.OrderBy(k => k.Layer).ThenBy(k => k.Shard).Select(ShardName),
    ];

    /// <summary>Why, for the first few missing (the rest counted).</summary>
    public string Describe(int first = 3)
    {
        var reasons = MissingRanks.OrderBy(p => p.Key).Select(p => $"{RankName(p.Key)}: {p.Value}")
            .Concat(MissingShards.OrderBy(p => p.Key.Layer).ThenBy(p => p.Key.Shard).Select(p => $"{ShardName(p.Key)}: {p.Value}"))
            .ToList();
        string text = string.Join("; ", reasons.Take(first));
        return reasons.Count > first ? $"{text}; and {reasons.Count - first} more" : text;
    }
}

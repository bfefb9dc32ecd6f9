using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Orleans.Runtime;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// The string grain key that names a planned grain, so that <see cref="ExpertPlacementDirector"/> can look it up
/// in the plan: <c>expert/{layer}/{shard}/{replica}</c> for an expert shard (<c>expert/{layer}/{shard}</c> means
/// replica 0), <c>attention/{rank}</c> for an attention rank (its first pipeline stage) and <c>attention/{rank}/{stage}</c>
/// for a later stage of a staged rank. Grains placed by <see cref="ExpertPlacement"/>
/// use string keys made by <see cref="ToString"/>, or the keys the cluster's grains already have: <c>{layer}/{shard}</c>
/// for <c>ExpertShardGrain</c> (replica 0) and the integer rank for <c>AttentionGrain</c> (<see cref="TryFromGrainId"/>).
/// </summary>
public sealed record PlacementKey(PlacementKind Kind, int Layer, int Shard, int Replica, int Rank)
{
    public static PlacementKey ForExpertShard(int layer, int shard, int replica = 0) => new(PlacementKind.ExpertShard, layer, shard, replica, 0);

    public static PlacementKey ForAttentionRank(int rank) => new(PlacementKind.AttentionRank, 0, 0, 0, rank);

    /// <summary>Pipeline stage <paramref name="stage"/> of attention rank <paramref name="rank"/> (stage 0 is the rank's own key).</summary>
    public static PlacementKey ForAttentionStage(int rank, int stage) => ForAttentionRank(rank) with { Stage = stage };

    /// <summary>The pipeline stage of an attention rank's grain (0: the rank's first, or only, stage).</summary>
    public int Stage { get; init; }

    public override string ToString() => Kind == PlacementKind.ExpertShard
        ? string.Create(CultureInfo.InvariantCulture, $"expert/{Layer}/{Shard}/{Replica}")
        : Stage == 0 ? string.Create(CultureInfo.InvariantCulture, $"attention/{Rank}")
        : string.Create(CultureInfo.InvariantCulture, $"attention/{Rank}/{Stage}");

    /// <summary>Words for messages: <c>expert shard (layer 3, shard 1, replica 0)</c>, <c>attention rank 2</c>,
    /// <c>attention rank 2 stage 1</c>.</summary>
    public string Describe() => Kind == PlacementKind.ExpertShard
        ? string.Create(CultureInfo.InvariantCulture, $"expert shard (layer {Layer}, shard {Shard}, replica {Replica})")
        : Stage == 0 ? string.Create(CultureInfo.InvariantCulture, $"attention rank {Rank}")
        : string.Create(CultureInfo.InvariantCulture, $"attention rank {Rank} stage {Stage}");

    public static bool TryParse(string? key, [NotNullWhen(true)] out PlacementKey? result)
    {
        result = null;
        if (key is null) return false;
        var parts = key.Split('/');
        if (parts is ["attention", var r] && TryIndex(r, out int rank))
        {
            result = ForAttentionRank(rank);
            return true;
        }
        if (parts is ["attention", var sr, var ss] && TryIndex(sr, out int stagedRank) && TryIndex(ss, out int stage))
        {
            result = ForAttentionStage(stagedRank, stage);
            return true;
        }
        if (parts is [var l, var sh] && TryIndex(l, out int grainLayer) && TryIndex(sh, out int grainShard))
        {
            // The expert shard grain's own key, "layer/shard" (ExpertShardKey): replica 0.
            result = ForExpertShard(grainLayer, grainShard);
            return true;
        }
        if (parts is [var l3, var s3, var r3] && TryIndex(l3, out int keyLayer) && TryIndex(s3, out int keyShard) && TryIndex(r3, out int keyReplica))
        {
            // "layer/shard/replica": a further replica's grain key.
            result = ForExpertShard(keyLayer, keyShard, keyReplica);
            return true;
        }
        if (parts.Length is 3 or 4 && parts[0] == "expert"
            && TryIndex(parts[1], out int layer) && TryIndex(parts[2], out int shard))
        {
            int replica = 0;
            if (parts.Length == 4 && !TryIndex(parts[3], out replica)) return false;
            result = ForExpertShard(layer, shard, replica);
            return true;
        }
        return false;
    }

    /// <summary>
    /// The placement key of a grain: a string key as <see cref="TryParse"/> reads it (<c>expert/L/S[/R]</c>,
    /// <c>attention/R</c>, or the expert shard grain's <c>L/S</c>), or an integer key without extension, which is
    /// an attention rank (the attention grain is keyed by its rank).
    /// </summary>
    public static bool TryFromGrainId(GrainId grain, [NotNullWhen(true)] out PlacementKey? result)
    {
        if (TryParse(grain.Key.ToString(), out result)) return true;
        if (grain.TryGetIntegerKey(out long rank, out string? extension) && extension is null && rank is >= 0 and <= int.MaxValue)
        {
            result = ForAttentionRank((int)rank);
            return true;
        }
        result = null;
        return false;
    }

    public static PlacementKey Parse(string key) => TryParse(key, out var k)
        ? k
        : throw new FormatException($"'{key}' is not a placement key; expected expert/LAYER/SHARD[/REPLICA] or attention/RANK[/STAGE]");

    private static bool TryIndex(string s, out int value) =>
        int.TryParse(s, NumberStyles.None, CultureInfo.InvariantCulture, out value);
}

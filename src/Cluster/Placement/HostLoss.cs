using System.Globalization;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// What the loss of one silo (a host, in plans from <c>llama4 plan</c>) costs a plan: the expert shards that lose every
/// replica (the cluster re-loads them on surviving silos, a pause of a checkpoint read) and the bytes that takes, and
/// whether an attention rank survives. <see cref="SurvivesAnyOne"/>: every shard keeps a replica and some rank lives on
/// another silo, whichever one silo is lost.
/// </summary>
/// <param name="Silo">The silo lost.</param>
/// <param name="ShardsWithoutReplica">(layer, shard) pairs whose every replica lived on it.</param>
/// <param name="BytesToReload">Expert bytes the survivors must load for those shards.</param>
/// <param name="RanksLost">Attention ranks that lived on it.</param>
/// <param name="RankLeft">Whether some attention rank lives elsewhere.</param>
public sealed record HostLoss(string Silo, int ShardsWithoutReplica, long BytesToReload, int RanksLost, bool RankLeft)
{
    public bool Survives => ShardsWithoutReplica == 0 && RankLeft;

    /// <summary>One loss per silo of <paramref name="plan"/>, in inventory order.</summary>
    public static IReadOnlyList<HostLoss> Of(PlacementPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var shards = plan.ExpertShards.GroupBy(s => (s.Layer, s.Shard)).ToList();
        return plan.Inventory.Silos.Select(silo =>
        {
            var orphaned = shards.Where(g => g.All(r => r.Silo == silo.Name)).ToList();
            // A staged rank is lost with any of its stages' silos.
            bool On(AttentionRankPlacement r) => r.Silo == silo.Name || (!r.Stages.IsDefault && r.Stages.Any(s => s.Silo == silo.Name));
            int ranksLost = plan.AttentionRanks.Count(On);
            return new HostLoss(silo.Name, orphaned.Count, orphaned.Sum(g => g.First().Bytes), ranksLost,
                plan.AttentionRanks.Any(r => !On(r)));
        }).ToList();
    }

    /// <summary>Whether the plan survives the loss of any one silo with no reload and a rank left.</summary>
    public static bool SurvivesAnyOne(PlacementPlan plan) => Of(plan).All(l => l.Survives);

    /// <summary>A line for the plan's report.</summary>
    public static string Describe(PlacementPlan plan)
    {
        var losses = Of(plan);
        if (losses.Count == 0) return "losing one silo: nothing planned";
        if (losses.All(l => l.Survives))
            return string.Create(CultureInfo.InvariantCulture,
                $"losing any one of the {losses.Count} silos: survives — every expert shard keeps a replica on another silo and an attention rank lives elsewhere (sequences of a lost rank are re-prefilled there)");
        var worst = losses.OrderByDescending(l => l.BytesToReload).ThenByDescending(l => l.RanksLost).First();
        int survivors = Math.Max(1, losses.Count - 1);
        string shardsPart = worst.ShardsWithoutReplica == 0
            ? "every expert shard keeps a replica"
            : string.Create(CultureInfo.InvariantCulture,
                $"{worst.ShardsWithoutReplica} expert shard(s) lose every replica and are re-loaded elsewhere ({ByteSize.Format(worst.BytesToReload)}: " +
                $"{ByteSize.Format(worst.BytesToReload / survivors)} per surviving silo if spread evenly; the survivors have {ByteSize.Format(plan.Memory.Where(m => m.Silo != worst.Silo).Sum(m => m.FreeBytes))} free)");
        string ranksPart = worst.RankLeft ? "an attention rank lives elsewhere" : "no attention rank is left until one re-activates on a surviving silo that has room";
        return string.Create(CultureInfo.InvariantCulture,
            $"losing one silo: does NOT survive without a pause — losing {worst.Silo}: {shardsPart}; {ranksPart}. Use --replicas 2 (and --attention-ranks 2) with at least 2 hosts");
    }
}

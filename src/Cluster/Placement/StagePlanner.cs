using System.Collections.Immutable;
using System.Globalization;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// Step 2 of <see cref="PlacementPlanner"/>: every attention rank becomes K pipeline stages, each ONE device holding its
/// layers' non-expert weights and KV share (<see cref="RankFootprint.Stage"/>), the layers cut by
/// <see cref="StageLayers.Split"/> exactly as the runtime cuts them. K is the smallest with which every stage fits the
/// largest attention-capable device and all ranks' stages find room (or the K asked for).
/// </summary>
internal static class StagePlanner
{
    public sealed record Result(int Stages, ImmutableArray<AttentionRankPlacement> Ranks);

    public static (Result? Result, PlacementShortfall? Shortfall) PlaceRanks(RankFootprint rank, int ranks, int? stagesAsked,
        List<PlannerSlot> slots)
    {
        var attention = slots.Where(s => s.Silo.Role.HoldsAttention()).ToList();
        long largest = attention.Max(s => s.Usable);
        int layers = rank.Layers;
        if (stagesAsked is { } asked && asked > layers)
            throw new ArgumentException($"{asked} stages per rank cannot split the model's {layers} layers: each stage needs at least one layer");

        int first = stagesAsked ?? 1;
        while (first <= layers && LargestStage(rank, first).Bytes > largest)
        {
            if (stagesAsked is not null) break;
            first++;
        }
        if (first > layers || LargestStage(rank, first).Bytes > largest)
        {
            int k = Math.Min(first, layers);
            var (bytes, layersOf) = LargestStage(rank, k);
            string what = string.Create(CultureInfo.InvariantCulture,
                $"a pipeline stage of {(layersOf.Count == 1 ? "1 layer" : $"{layersOf.Count} layers")} ({layersOf}{(k == 1 ? ", the whole rank" : $", stage of {k}")}: weights + KV)");
            string hint = stagesAsked is not null && k < layers
                ? "That is the largest attention-capable device's usable memory. Use more stages (--stages) or let the planner choose."
                : string.Create(CultureInfo.InvariantCulture,
                    $"That is the largest attention-capable device's usable memory; even one layer per stage does not fit. Use larger devices, a smaller KV budget{(rank.SharedExperts == SharedExpertPlacement.Rank ? ", shared experts as shards (--shared-experts shards)" : "")} or less headroom.");
            return (null, new PlacementShortfall(what, bytes, largest, hint) { Constraint = PlacementConstraint.StageDevice });
        }

        int last = stagesAsked ?? layers;
        for (int k = first; k <= last; k++)
        {
            var placed = TryPlace(rank, ranks, k, slots);
            if (placed is not null) return (new Result(k, placed.Value), null);
        }
        long stageBytes = LargestStage(rank, first).Bytes;
        long needed = ranks * (rank.WeightBytes + rank.KvBytes);
        string whatAll = string.Create(CultureInfo.InvariantCulture,
            $"{ranks} attention rank(s) × {first}{(last > first ? $" to {last}" : "")} stage(s), each stage one device (up to {ByteSize.Format(stageBytes)} at {first} stages)");
        string hintAll = string.Create(CultureInfo.InvariantCulture,
            $"That is what the {attention.Count} attention-capable device(s) have usable in all; a stage must fit whole on one of them. Use fewer attention ranks, more attention devices or a smaller KV budget.");
        return (null, new PlacementShortfall(whatAll, needed, attention.Sum(s => s.Usable), hintAll) { Constraint = PlacementConstraint.AttentionDevices });
    }

    /// <summary>The largest stage of a <paramref name="k"/>-stage cut and its layers.</summary>
    private static (long Bytes, StageLayers Layers) LargestStage(RankFootprint rank, int k) =>
        StageLayers.Split(rank.Layers, k)
            .Select(l => { var (w, kv) = rank.Stage(l); return (Bytes: w + kv, Layers: l); })
            .MaxBy(x => x.Bytes);

    /// <summary>Places every rank's <paramref name="k"/> stages; on failure undoes what it placed and returns null.</summary>
    private static ImmutableArray<AttentionRankPlacement>? TryPlace(RankFootprint rank, int ranks, int k, List<PlannerSlot> slots)
    {
        var cut = StageLayers.Split(rank.Layers, k);
        var taken = new List<(PlannerSlot Slot, long Weights, long Kv)>();
        var ranksPerSilo = new Dictionary<string, int>(StringComparer.Ordinal);
        var placements = ImmutableArray.CreateBuilder<AttentionRankPlacement>(ranks);
        for (int r = 0; r < ranks; r++)
        {
            var stages = ImmutableArray.CreateBuilder<AttentionStagePlacement>(k);
            PlannerSlot? previous = null;
            for (int s = 0; s < k; s++)
            {
                var (weights, kv) = rank.Stage(cut[s]);
                var slot = ChooseSlot(slots, weights + kv, previous, ranksPerSilo);
                if (slot is null)
                {
                    foreach (var (t, w, v) in taken)
                    {
                        t.NonExpert -= w;
                        t.Kv -= v;
                        t.Stages--;
                    }
                    return null;
                }
                slot.NonExpert += weights;
                slot.Kv += kv;
                slot.Stages++;
                taken.Add((slot, weights, kv));
                if (s == 0) ranksPerSilo[slot.Silo.Name] = ranksPerSilo.GetValueOrDefault(slot.Silo.Name) + 1;
                stages.Add(new AttentionStagePlacement(s, slot.Silo.Name, slot.Device.Device, cut[s].First, cut[s].Count, weights, kv));
                previous = slot;
            }
            var built = stages.MoveToImmutable();
            placements.Add(new AttentionRankPlacement(r, built[0].Silo, [built[0].Device], built.Sum(x => x.WeightBytes), built.Sum(x => x.KvBytes), built));
        }
        return placements.MoveToImmutable();
    }

    /// <summary>
    /// A device with room for <paramref name="bytes"/>: attention-only silos first; then a device with the fewest stages
    /// already (stages of one rank on distinct devices, ranks not stacked); then, for stage 0, the silo with the fewest
    /// ranks (ranks spread over silos), for a later stage the previous stage's silo (the hand-off stays on the host's
    /// NVLink); then inventory order.
    /// </summary>
    private static PlannerSlot? ChooseSlot(List<PlannerSlot> slots, long bytes, PlannerSlot? previous, Dictionary<string, int> ranksPerSilo)
    {
        PlannerSlot? best = null;
        (int, int, int, int) bestKey = default;
        foreach (var s in slots)
        {
            if (!s.Silo.Role.HoldsAttention() || s.Free < bytes) continue;
            var key = (
                s.Silo.Role == SiloRole.Attention ? 0 : 1,
                s.Stages,
                previous is null ? ranksPerSilo.GetValueOrDefault(s.Silo.Name) : s.Silo == previous.Silo ? 0 : 1,
                s.Index);
            if (best is null || key.CompareTo(bestKey) < 0)
            {
                best = s;
                bestKey = key;
            }
        }
        return best;
    }
}

using System.Collections.Immutable;
using System.Globalization;
using Llama4Cluster.Core.Config;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// Turns (model config, weight dtype, cluster inventory, options) into a <see cref="PlacementPlan"/> or a
/// <see cref="PlacementShortfall"/>.
/// </summary>
/// <remarks>
/// <para>Steps: (1) every device keeps <see cref="PlacementOptions.Headroom"/> free; (2) attention ranks take a
/// full copy of the non-expert weights plus their KV budget, on the fewest devices of one attention-capable
/// silo that hold them (ranks spread over silos, <c>attention</c> silos before <c>all</c> silos); (3) each MoE
/// layer's experts are cut into contiguous, equal-sized shards (sizes differ by at most one expert) and
/// every shard replica goes, whole, onto one expert-capable device.</para>
/// <para>Step 3 is water-filling: each device gets an expert quota that would leave every expert device with
/// the same free memory (devices that also hold an attention rank get less), then shards are placed greedily
/// in layer order, preferring a silo with no other replica of the same shard, then a device that still has
/// quota, then a device that holds no other shard of the same layer (so one layer's tokens fan out over many
/// devices), then the largest remaining quota. Shards are small against a device (Maverick fp8: 2 GB
/// against 72 GB usable), so the greedy packing loses little to fragmentation; when it cannot place a
/// shard it says so.</para>
/// </remarks>
public static class PlacementPlanner
{
    public static PlacementOutcome Plan(Llama4TextConfig config, WeightDType dtype, ClusterInventory inventory, PlacementOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(inventory);
        options ??= new PlacementOptions();
        config.Validate();
        inventory.Validate();
        options.Validate();

        var footprint = ModelFootprint.For(config, dtype);
        long kvPerRank = options.KvBytesPerRank ?? options.Sequences * footprint.KvBytesPerSequence(options.ContextTokens);
        long perRank = footprint.NonExpertBytes + kvPerRank;
        int replicas = options.Replicas;
        long expertTotal = footprint.RoutedExpertBytes * replicas;

        var slots = new List<Slot>();
        foreach (var silo in inventory.Silos)
            foreach (var device in silo.Devices)
                slots.Add(new Slot(silo, device, (long)Math.Ceiling(device.MemoryBytes * options.Headroom), slots.Count));
        long usable = slots.Sum(s => s.Usable);

        var attentionSilos = inventory.Silos.Where(s => s.Role.HoldsAttention()).ToList();
        var expertSlots = slots.Where(s => s.Silo.Role.HoldsExperts()).ToList();
        bool hasExperts = footprint.MoeLayers.Length > 0;

        if (attentionSilos.Count == 0)
            return PlacementOutcome.NoFit(footprint, new PlacementShortfall(
                "an attention rank (non-expert weights + KV)", perRank, 0,
                "No silo has role attention or all; give at least one silo one of those roles."));
        if (hasExperts && expertSlots.Count == 0)
            return PlacementOutcome.NoFit(footprint, new PlacementShortfall(
                "the routed experts", expertTotal, 0, "No silo has role expert or all; give at least one silo one of those roles."));

        int ranks = options.AttentionRanks ?? Math.Max(1, inventory.Silos.Count(s => s.Role == SiloRole.Attention));
        long needed = ranks * perRank + expertTotal;
        if (needed > usable)
            return PlacementOutcome.NoFit(footprint, ModelShortfall(footprint, dtype, inventory, options, ranks, kvPerRank, needed, usable));

        var rankPlacements = ImmutableArray.CreateBuilder<AttentionRankPlacement>(ranks);
        if (PlaceRanks(config, options, footprint, kvPerRank, ranks, slots, attentionSilos, rankPlacements) is { } rankShortfall)
            return PlacementOutcome.NoFit(footprint, rankShortfall);

        int shardsPerLayer = 0;
        var shardPlacements = ImmutableArray.CreateBuilder<ExpertShardPlacement>();
        if (hasExperts)
        {
            shardsPerLayer = options.ShardsPerLayer ?? Math.Clamp(expertSlots.Count, 1, footprint.ExpertsPerLayer);
            if (PlaceExperts(footprint, shardsPerLayer, replicas, expertSlots, shardPlacements) is { } expertShortfall)
                return PlacementOutcome.NoFit(footprint, expertShortfall);
        }

        var plan = new PlacementPlan
        {
            Footprint = footprint,
            Inventory = inventory,
            ShardsPerLayer = shardsPerLayer,
            Replicas = replicas,
            Headroom = options.Headroom,
            KvBytesPerRank = kvPerRank,
            ExpertShards = shardPlacements.ToImmutable(),
            AttentionRanks = rankPlacements.ToImmutable(),
            Memory = [.. slots.Select(s => new DeviceMemory(s.Silo.Name, s.Device.Device, s.Device.MemoryBytes, s.Headroom, s.Expert, s.NonExpert, s.Kv, s.Shards))],
        };
        return PlacementOutcome.Fit(plan);
    }

    /// <summary>
    /// The fewest hosts of <paramref name="gpusPerHost"/> × <paramref name="gpuMemoryBytes"/> (role <c>all</c>) on which
    /// the model fits, or null when even <paramref name="maxHosts"/> are not enough.
    /// </summary>
    public static int? MinimumUniformHosts(Llama4TextConfig config, WeightDType dtype, int gpusPerHost, long gpuMemoryBytes,
        PlacementOptions? options = null, int maxHosts = 256)
    {
        for (int hosts = 1; hosts <= maxHosts; hosts++)
            if (Plan(config, dtype, ClusterInventory.Uniform(hosts, gpusPerHost, gpuMemoryBytes), options).Fits)
                return hosts;
        return null;
    }

    private static PlacementShortfall ModelShortfall(ModelFootprint footprint, WeightDType dtype, ClusterInventory inventory, PlacementOptions options,
        int ranks, long kvPerRank, long needed, long usable)
    {
        int replicas = options.Replicas;
        long expertTotal = footprint.RoutedExpertBytes * replicas;
        string what = string.Create(CultureInfo.InvariantCulture,
            $"the model in {dtype.ToString().ToLowerInvariant()} (routed experts {ByteSize.Format(expertTotal)}{(replicas > 1 ? $" for {replicas} replicas" : "")} + " +
            $"{ranks} attention rank(s) × (non-expert weights {ByteSize.Format(footprint.NonExpertBytes)} + KV {ByteSize.Format(kvPerRank)}))");
        string hint = string.Create(CultureInfo.InvariantCulture,
            $"The cluster has {inventory.DeviceCount} device(s), {ByteSize.Format(inventory.TotalMemoryBytes)} in all, " +
            $"{ByteSize.Format(usable)} after {options.Headroom * 100:0.#}% headroom. ") +
            (dtype == WeightDType.Bf16 && footprint.MoeLayers.Length > 0 ? "Try fp8 experts, more devices, or a smaller KV budget." : "Add devices or reduce the KV budget.");
        return new PlacementShortfall(what, needed, usable, hint);
    }

    /// <summary>Places the attention ranks one by one (step 2); the first that fits nowhere is the shortfall.</summary>
    private static PlacementShortfall? PlaceRanks(Llama4TextConfig config, PlacementOptions options, ModelFootprint footprint, long kvPerRank, int ranks,
        List<Slot> slots, List<SiloInventory> attentionSilos, ImmutableArray<AttentionRankPlacement>.Builder placements)
    {
        var splits = AttentionSplits(config, options);
        var ranksPerSilo = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int rank = 0; rank < ranks; rank++)
        {
            var placed = PlaceRank(rank, slots, attentionSilos, ranksPerSilo, splits, footprint.NonExpertBytes, kvPerRank);
            if (placed is null)
            {
                long best = attentionSilos.Max(silo =>
                {
                    int k = splits.Where(k => k <= silo.Devices.Length).DefaultIfEmpty(1).Max();
                    return slots.Where(s => s.Silo == silo).Select(s => s.Free).OrderDescending().Take(k).Sum();
                });
                string what = string.Create(CultureInfo.InvariantCulture,
                    $"attention rank {rank} (non-expert weights {ByteSize.Format(footprint.NonExpertBytes)} + KV {ByteSize.Format(kvPerRank)}, " +
                    $"on at most {splits.Max()} device(s) of one silo)");
                string hint = string.Create(CultureInfo.InvariantCulture,
                    $"That is the most one attention-capable silo has free{(rank > 0 ? $" after {rank} other rank(s)" : "")}. " +
                    $"A rank splits over 1{string.Concat(splits.Skip(1).Select(k => ", " + k.ToString(CultureInfo.InvariantCulture)))} devices of one silo " +
                    $"(dividing its {config.NumKeyValueHeads} KV heads); use silos with more or larger devices, fewer attention ranks or a smaller KV budget.");
                return new PlacementShortfall(what, footprint.NonExpertBytes + kvPerRank, best, hint);
            }
            placements.Add(placed);
        }
        return null;
    }

    /// <summary>Cuts each MoE layer into <paramref name="shardsPerLayer"/> shards and places every replica (step 3, water-filling).</summary>
    private static PlacementShortfall? PlaceExperts(ModelFootprint footprint, int shardsPerLayer, int replicas, List<Slot> expertSlots,
        ImmutableArray<ExpertShardPlacement>.Builder placements)
    {
        int experts = footprint.ExpertsPerLayer;
        long expertTotal = footprint.RoutedExpertBytes * replicas;
        if (shardsPerLayer > experts)
            throw new ArgumentException($"shards per layer ({shardsPerLayer}) cannot exceed the experts per layer ({experts}); every shard holds at least one expert");
        if (replicas > expertSlots.Count)
            throw new ArgumentException($"{replicas} replicas need {replicas} expert-capable devices (each replica of a shard on its own device); the inventory has {expertSlots.Count}");

        long expertFree = expertSlots.Sum(s => s.Free);
        if (expertTotal > expertFree)
            return new PlacementShortfall(
                string.Create(CultureInfo.InvariantCulture, $"the routed experts ({footprint.MoeLayers.Length} layers × {experts} experts × {replicas} replica(s))"),
                expertTotal, expertFree,
                "That is what the expert-capable devices have free after the attention ranks; add expert silos or move attention ranks to attention-only silos.");

        SetQuotas(expertSlots, expertTotal);
        foreach (int layer in footprint.MoeLayers)
        {
            for (int shard = 0; shard < shardsPerLayer; shard++)
            {
                int first = (int)((long)shard * experts / shardsPerLayer);
                int end = (int)((long)(shard + 1) * experts / shardsPerLayer);
                var shardExperts = Enumerable.Range(first, end - first).ToImmutableArray();
                if (PlaceShardReplicas(footprint, layer, shard, shardExperts, replicas, expertSlots, placements) is { } shortfall)
                    return shortfall;
            }
        }
        return null;
    }

    private static PlacementShortfall? PlaceShardReplicas(ModelFootprint footprint, int layer, int shard, ImmutableArray<int> shardExperts, int replicas,
        List<Slot> expertSlots, ImmutableArray<ExpertShardPlacement>.Builder placements)
    {
        long bytes = shardExperts.Length * footprint.ExpertBytes;
        var replicaSlots = new List<Slot>(replicas);
        for (int replica = 0; replica < replicas; replica++)
        {
            var slot = ChooseExpertSlot(expertSlots, layer, bytes, replicaSlots);
            if (slot is null)
            {
                long largest = expertSlots.Where(s => !replicaSlots.Contains(s)).Select(s => s.Free).DefaultIfEmpty(0).Max();
                return new PlacementShortfall(
                    string.Create(CultureInfo.InvariantCulture, $"expert shard (layer {layer}, shard {shard}, replica {replica}) with {shardExperts.Length} experts"),
                    bytes, largest,
                    string.Create(CultureInfo.InvariantCulture,
                        $"That is the largest free space on one device; the expert devices have {ByteSize.Format(expertSlots.Sum(s => s.Free))} free in all. Use more, smaller shards per layer."));
            }
            slot.Expert += bytes;
            slot.Quota -= bytes;
            slot.Shards++;
            slot.Layers.Add(layer);
            replicaSlots.Add(slot);
            placements.Add(new ExpertShardPlacement(layer, shard, replica, shardExperts, slot.Silo.Name, slot.Device.Device, bytes));
        }
        return null;
    }

    /// <summary>Allowed device counts for one attention rank: divisors of the KV heads (tensor parallel over KV heads).</summary>
    private static int[] AttentionSplits(Llama4TextConfig config, PlacementOptions options)
    {
        int kvHeads = config.NumKeyValueHeads;
        if (options.AttentionDevicesPerRank is { } k)
        {
            if (kvHeads % k != 0)
                throw new ArgumentException($"devices per attention rank ({k}) must divide the model's {kvHeads} KV heads");
            return [k];
        }
        return Enumerable.Range(1, kvHeads).Where(d => kvHeads % d == 0).ToArray();
    }

    private static AttentionRankPlacement? PlaceRank(int rank, List<Slot> slots, List<SiloInventory> attentionSilos,
        Dictionary<string, int> ranksPerSilo, int[] splits, long nonExpert, long kv)
    {
        // Attention-only silos first, then silos with fewer ranks, then inventory order.
        var order = attentionSilos
            .Select((silo, index) => (silo, index))
            .OrderBy(x => x.silo.Role == SiloRole.Attention ? 0 : 1)
            .ThenBy(x => ranksPerSilo.GetValueOrDefault(x.silo.Name))
            .ThenBy(x => x.index)
            .Select(x => x.silo)
            .ToList();
        foreach (int k in splits)
        {
            foreach (var silo in order)
            {
                if (silo.Devices.Length < k) continue;
                var chosen = slots.Where(s => s.Silo == silo).OrderByDescending(s => s.Free).ThenBy(s => s.Index).Take(k).OrderBy(s => s.Index).ToList();
                bool fits = true;
                for (int i = 0; i < k; i++)
                    fits &= chosen[i].Free >= Part(nonExpert, k, i) + Part(kv, k, i);
                if (!fits) continue;
                for (int i = 0; i < k; i++)
                {
                    chosen[i].NonExpert += Part(nonExpert, k, i);
                    chosen[i].Kv += Part(kv, k, i);
                }
                ranksPerSilo[silo.Name] = ranksPerSilo.GetValueOrDefault(silo.Name) + 1;
                return new AttentionRankPlacement(rank, silo.Name, [.. chosen.Select(s => s.Device.Device)], nonExpert, kv);
            }
        }
        return null;
    }

    /// <summary>Part <paramref name="i"/> of <paramref name="total"/> split <paramref name="k"/> ways; the remainder goes to the first parts.</summary>
    private static long Part(long total, int k, int i) => total / k + (i < total % k ? 1 : 0);

    /// <summary>Water-filling: quotas that would leave every expert device with the same free bytes.</summary>
    private static void SetQuotas(List<Slot> expertSlots, long total)
    {
        // Find the level L with Σ max(0, free_i − L) = total by walking the sorted free values.
        var free = expertSlots.Select(s => s.Free).OrderDescending().ToArray();
        double level = 0;
        long sum = 0;
        for (int i = 0; i < free.Length; i++)
        {
            sum += free[i];
            double candidate = (sum - (double)total) / (i + 1);
            if (i + 1 == free.Length || candidate >= free[i + 1])
            {
                level = candidate;
                break;
            }
        }
        foreach (var s in expertSlots)
            s.Quota = (long)Math.Max(0, Math.Ceiling(s.Free - level));
    }

    private static Slot? ChooseExpertSlot(List<Slot> expertSlots, int layer, long bytes, List<Slot> replicaSlots)
    {
        Slot? best = null;
        (int, int, int, long, int) bestKey = default;
        foreach (var s in expertSlots)
        {
            if (s.Free < bytes || replicaSlots.Contains(s)) continue;
            var key = (
                replicaSlots.Any(r => r.Silo == s.Silo) ? 1 : 0,
                s.Quota >= bytes ? 0 : 1,
                s.Layers.Contains(layer) ? 1 : 0,
                -s.Quota,
                s.Index);
            if (best is null || key.CompareTo(bestKey) < 0)
            {
                best = s;
                bestKey = key;
            }
        }
        return best;
    }

    private sealed class Slot(SiloInventory silo, DeviceInventory device, long headroom, int index)
    {
        public SiloInventory Silo { get; } = silo;
        public DeviceInventory Device { get; } = device;
        public long Headroom { get; } = headroom;
        public int Index { get; } = index;
        public long Usable => Device.MemoryBytes - Headroom;
        public long Expert { get; set; }
        public long NonExpert { get; set; }
        public long Kv { get; set; }
        public int Shards { get; set; }
        public long Quota { get; set; }
        public HashSet<int> Layers { get; } = [];
        public long Free => Usable - Expert - NonExpert - Kv;
    }
}

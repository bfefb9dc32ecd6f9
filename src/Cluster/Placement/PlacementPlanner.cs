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
/// full copy of the non-expert weights plus their KV budget, cut into the fewest pipeline stages of which each fits ONE
/// attention-capable device (<see cref="StagePlanner"/>; ranks spread over silos, <c>attention</c> silos before
/// <c>all</c> silos, a rank's later stages on its first stage's silo when there is room); (3) each MoE
/// layer's experts are cut into contiguous, equal-sized shards (sizes differ by at most one expert) and
/// every shard replica goes, whole, onto one expert-capable device.</para>
/// <para>Step 3 is water-filling: each device gets an expert quota that would leave every expert device with
/// the same free memory (devices that also hold an attention rank get less), then shards are placed greedily
/// in layer order, preferring a silo with no other replica of the same shard, then a device that still has
/// quota, then a device that holds no other shard of the same layer (so one layer's tokens fan out over many
/// devices), then the largest remaining quota. Shards are small against a device (Maverick fp8: 2 GB
/// against 72 GB usable), so the greedy packing loses little to fragmentation; when it cannot place a
/// shard it says so.</para>
/// <para>Shared experts (<see cref="PlacementOptions.SharedExperts"/>): with the ranks, or as one more shard per MoE layer
/// (bf16, as the release keeps them; the stages then hold only attention, norms, routers and dense MLPs). Auto plans both
/// ways and takes shards when that needs fewer stages per rank (or only that fits).</para>
/// <para>Does not fit: the answer names the binding <see cref="PlacementConstraint"/> — all memory together, one stage
/// against the largest device, the stages against the attention devices, or the shards against what the expert devices
/// have left.</para>
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
        bool hasExperts = Enumerable.Range(0, config.NumHiddenLayers).Any(config.IsMoeLayer);
        if (options.SharedExperts is not null || !hasExperts)
            return Plan(config, dtype, inventory, options, hasExperts ? options.SharedExperts!.Value : SharedExpertPlacement.Rank);

        // Auto: shared experts as shards when that takes fewer stages per rank, or is the only way the ranks fit.
        var rank = Plan(config, dtype, inventory, options, SharedExpertPlacement.Rank);
        if (rank.Fits && rank.Plan.StagesPerRank == 1) return rank;
        var shards = Plan(config, dtype, inventory, options, SharedExpertPlacement.Shards);
        if (rank.Fits)
            return shards.Fits && shards.Plan.StagesPerRank < rank.Plan.StagesPerRank ? shards : rank;
        if (shards.Fits) return shards;
        // Neither fits: name the constraint of the attempt that got further (its attention stages placed).
        bool rankStuckOnAttention = rank.Shortfall.Constraint is PlacementConstraint.StageDevice or PlacementConstraint.AttentionDevices;
        return rankStuckOnAttention && shards.Shortfall.Constraint == PlacementConstraint.ExpertDevices ? shards : rank;
    }

    private static PlacementOutcome Plan(Llama4TextConfig config, WeightDType dtype, ClusterInventory inventory, PlacementOptions options,
        SharedExpertPlacement shared)
    {
        var footprint = ModelFootprint.For(config, dtype);
        long kvPerRank = options.KvBytesPerRank ?? options.Sequences * footprint.KvBytesPerSequence(options.ContextTokens);
        var rank = RankFootprint.For(config, kvPerRank, options.ContextTokens, shared);
        long perRank = rank.WeightBytes + kvPerRank;
        int replicas = options.Replicas;
        long sharedTotal = shared == SharedExpertPlacement.Shards ? footprint.MoeLayers.Length * rank.SharedExpertBytes * replicas : 0;
        long expertTotal = footprint.RoutedExpertBytes * replicas + sharedTotal;

        var slots = new List<PlannerSlot>();
        foreach (var silo in inventory.Silos)
            foreach (var device in silo.Devices)
                slots.Add(new PlannerSlot(silo, device, (long)Math.Ceiling(device.MemoryBytes * options.Headroom), slots.Count));
        long usable = slots.Sum(s => s.Usable);

        var expertSlots = slots.Where(s => s.Silo.Role.HoldsExperts()).ToList();
        bool hasExperts = footprint.MoeLayers.Length > 0;

        if (!inventory.Silos.Any(s => s.Role.HoldsAttention()))
            return PlacementOutcome.NoFit(footprint, new PlacementShortfall(
                "an attention rank (non-expert weights + KV)", perRank, 0,
                "No silo has role attention or all; give at least one silo one of those roles.") { Constraint = PlacementConstraint.Roles });
        if (hasExperts && expertSlots.Count == 0)
            return PlacementOutcome.NoFit(footprint, new PlacementShortfall(
                "the routed experts", expertTotal, 0, "No silo has role expert or all; give at least one silo one of those roles.") { Constraint = PlacementConstraint.Roles });

        int ranks = options.AttentionRanks ?? Math.Max(1, inventory.Silos.Count(s => s.Role == SiloRole.Attention));
        long needed = ranks * perRank + expertTotal;
        if (needed > usable)
            return PlacementOutcome.NoFit(footprint, ModelShortfall(footprint, rank, dtype, inventory, options, ranks, needed, usable, expertTotal));

        var (staged, stageShortfall) = StagePlanner.PlaceRanks(rank, ranks, options.Stages, slots);
        if (staged is null)
            return PlacementOutcome.NoFit(footprint, stageShortfall!);

        int shardsPerLayer = 0;
        var shardPlacements = ImmutableArray.CreateBuilder<ExpertShardPlacement>();
        if (hasExperts)
        {
            shardsPerLayer = options.ShardsPerLayer ?? Math.Clamp(expertSlots.Count, 1, footprint.ExpertsPerLayer);
            long sharedBytes = shared == SharedExpertPlacement.Shards ? rank.SharedExpertBytes : 0;
            if (PlaceExperts(footprint, shardsPerLayer, replicas, sharedBytes, expertSlots, shardPlacements) is { } expertShortfall)
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
            AttentionRanks = staged.Ranks,
            Memory = [.. slots.Select(s => s.ToMemory())],
            SharedExperts = shared,
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

    private static PlacementShortfall ModelShortfall(ModelFootprint footprint, RankFootprint rank, WeightDType dtype, ClusterInventory inventory,
        PlacementOptions options, int ranks, long needed, long usable, long expertTotal)
    {
        int replicas = options.Replicas;
        string what = string.Create(CultureInfo.InvariantCulture,
            $"the model in {(dtype == WeightDType.Bf16 ? "bfloat16" : "fp8")} (expert shards {ByteSize.Format(expertTotal)}{(replicas > 1 ? $" for {replicas} replicas" : "")}" +
            $"{(rank.SharedExperts == SharedExpertPlacement.Shards ? " incl. shared experts" : "")} + " +
            $"{ranks} attention rank(s) × (non-expert weights {ByteSize.Format(rank.WeightBytes)} + KV {ByteSize.Format(rank.KvBytes)}))");
        long perDevice = inventory.Silos.SelectMany(s => s.Devices).Max(d => d.MemoryBytes - (long)Math.Ceiling(d.MemoryBytes * options.Headroom));
        string hint = string.Create(CultureInfo.InvariantCulture,
            $"That is all {inventory.DeviceCount} device(s) after {options.Headroom * 100:0.#}% headroom ({ByteSize.Format(inventory.TotalMemoryBytes)} in all); " +
            $"it takes at least {(needed + perDevice - 1) / perDevice} device(s) of {ByteSize.Format(perDevice)} usable. ") +
            (dtype == WeightDType.Bf16 && footprint.MoeLayers.Length > 0 ? "Try fp8 experts, more devices, or a smaller KV budget." : "Add devices or reduce the KV budget.");
        return new PlacementShortfall(what, needed, usable, hint) { Constraint = PlacementConstraint.TotalMemory };
    }

    /// <summary>
    /// Cuts each MoE layer into <paramref name="shardsPerLayer"/> shards and places every replica (step 3, water-filling);
    /// with <paramref name="sharedBytes"/> &gt; 0 each layer gets one more shard, index <paramref name="shardsPerLayer"/>,
    /// holding its shared expert.
    /// </summary>
    private static PlacementShortfall? PlaceExperts(ModelFootprint footprint, int shardsPerLayer, int replicas, long sharedBytes, List<PlannerSlot> expertSlots,
        ImmutableArray<ExpertShardPlacement>.Builder placements)
    {
        int experts = footprint.ExpertsPerLayer;
        long expertTotal = (footprint.RoutedExpertBytes + footprint.MoeLayers.Length * sharedBytes) * replicas;
        if (shardsPerLayer > experts)
            throw new ArgumentException($"shards per layer ({shardsPerLayer}) cannot exceed the experts per layer ({experts}); every shard holds at least one expert");
        if (replicas > expertSlots.Count)
            throw new ArgumentException($"{replicas} replicas need {replicas} expert-capable devices (each replica of a shard on its own device); the inventory has {expertSlots.Count}");

        long expertFree = expertSlots.Sum(s => s.Free);
        if (expertTotal > expertFree)
        {
            long perDevice = expertSlots.Max(s => s.Usable);
            long devicesNeeded = (expertTotal + perDevice - 1) / perDevice;
            long devicesLeft = expertFree / perDevice;
            return new PlacementShortfall(
                string.Create(CultureInfo.InvariantCulture,
                    $"the expert shards ({footprint.MoeLayers.Length} layers × {experts} experts{(sharedBytes > 0 ? " + shared expert" : "")} × {replicas} replica(s): {devicesNeeded} devices' worth of {ByteSize.Format(perDevice)} usable)"),
                expertTotal, expertFree,
                string.Create(CultureInfo.InvariantCulture,
                    $"That is what the {expertSlots.Count} expert-capable devices have free after the attention stages ({devicesLeft} devices' worth left); add expert devices, use fp8 experts or fewer replicas, or move attention ranks to attention-only silos."))
            { Constraint = PlacementConstraint.ExpertDevices };
        }

        SetQuotas(expertSlots, expertTotal);
        foreach (int layer in footprint.MoeLayers)
        {
            for (int shard = 0; shard < shardsPerLayer; shard++)
            {
                int first = (int)((long)shard * experts / shardsPerLayer);
                int end = (int)((long)(shard + 1) * experts / shardsPerLayer);
                var shardExperts = Enumerable.Range(first, end - first).ToImmutableArray();
                if (PlaceShardReplicas(shardExperts.Length * footprint.ExpertBytes, layer, shard, shardExperts, replicas, expertSlots, placements) is { } shortfall)
                    return shortfall;
            }
            if (sharedBytes > 0 && PlaceShardReplicas(sharedBytes, layer, shardsPerLayer, [], replicas, expertSlots, placements) is { } sharedShortfall)
                return sharedShortfall;
        }
        return null;
    }

    private static PlacementShortfall? PlaceShardReplicas(long bytes, int layer, int shard, ImmutableArray<int> shardExperts, int replicas,
        List<PlannerSlot> expertSlots, ImmutableArray<ExpertShardPlacement>.Builder placements)
    {
        var replicaSlots = new List<PlannerSlot>(replicas);
        for (int replica = 0; replica < replicas; replica++)
        {
            var slot = ChooseExpertSlot(expertSlots, layer, bytes, replicaSlots);
            if (slot is null)
            {
                long largest = expertSlots.Where(s => !replicaSlots.Contains(s)).Select(s => s.Free).DefaultIfEmpty(0).Max();
                return new PlacementShortfall(
                    string.Create(CultureInfo.InvariantCulture, $"expert shard (layer {layer}, shard {shard}, replica {replica}) with {(shardExperts.IsEmpty ? "the shared expert" : $"{shardExperts.Length} experts")}"),
                    bytes, largest,
                    string.Create(CultureInfo.InvariantCulture,
                        $"That is the largest free space on one device; the expert devices have {ByteSize.Format(expertSlots.Sum(s => s.Free))} free in all. Use more, smaller shards per layer."))
                { Constraint = PlacementConstraint.ExpertDevices };
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

    /// <summary>Water-filling: quotas that would leave every expert device with the same free bytes.</summary>
    private static void SetQuotas(List<PlannerSlot> expertSlots, long total)
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

    private static PlannerSlot? ChooseExpertSlot(List<PlannerSlot> expertSlots, int layer, long bytes, List<PlannerSlot> replicaSlots)
    {
        PlannerSlot? best = null;
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
}

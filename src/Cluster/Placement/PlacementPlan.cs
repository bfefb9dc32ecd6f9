using System.Collections.Immutable;
using System.Globalization;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// Where every planned grain lives: for every MoE layer the experts of each shard and the silo/device of
/// each shard replica, the attention ranks with their silos/devices, and a memory table per device.
/// Made by <see cref="PlacementPlanner.Plan"/>; read by <see cref="ExpertPlacementDirector"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.PlacementPlan")]
public sealed record PlacementPlan
{
    [Id(0)] public required ModelFootprint Footprint { get; init; }
    [Id(1)] public required ClusterInventory Inventory { get; init; }
    [Id(2)] public required int ShardsPerLayer { get; init; }
    [Id(3)] public required int Replicas { get; init; }
    /// <summary>Fraction of each device kept free (the planner's headroom).</summary>
    [Id(4)] public required double Headroom { get; init; }
    /// <summary>KV budget of one attention rank, bytes.</summary>
    [Id(5)] public required long KvBytesPerRank { get; init; }
    /// <summary>Ordered by layer, shard, replica.</summary>
    [Id(6)] public required ImmutableArray<ExpertShardPlacement> ExpertShards { get; init; }
    [Id(7)] public required ImmutableArray<AttentionRankPlacement> AttentionRanks { get; init; }
    /// <summary>One row per device of the inventory, in inventory order.</summary>
    [Id(8)] public required ImmutableArray<DeviceMemory> Memory { get; init; }
    /// <summary>
    /// Where the MoE layers' shared experts run. With <see cref="SharedExpertPlacement.Shards"/> every MoE layer has one more
    /// shard, index <see cref="ShardsPerLayer"/> (after the routed shards, with as many replicas), that holds no routed
    /// expert (empty <see cref="ExpertShardPlacement.Experts"/>) and computes the shared expert for every token; the ranks'
    /// stages do not hold it. Plans written before this existed read as <see cref="SharedExpertPlacement.Rank"/>.
    /// </summary>
    [Id(9)] public SharedExpertPlacement SharedExperts { get; init; } = SharedExpertPlacement.Rank;

    public WeightDType DType => Footprint.DType;

    /// <summary>Pipeline stages of each attention rank (every rank has the same; 1 for a plan without ranks).</summary>
    public int StagesPerRank => AttentionRanks.IsDefaultOrEmpty || AttentionRanks[0].Stages.IsDefaultOrEmpty ? 1 : AttentionRanks[0].Stages.Length;

    public long TotalExpertBytes => ExpertShards.Sum(s => s.Bytes);
    public long TotalNonExpertBytes => AttentionRanks.Sum(r => r.NonExpertBytes);
    public long TotalKvBytes => AttentionRanks.Sum(r => r.KvBytes);
    public long TotalCapacityBytes => Memory.Sum(m => m.CapacityBytes);
    public long TotalFreeBytes => Memory.Sum(m => m.FreeBytes);

    public ExpertShardPlacement? FindShard(int layer, int shard, int replica = 0) =>
        ExpertShards.FirstOrDefault(s => s.Layer == layer && s.Shard == shard && s.Replica == replica);

    /// <summary>The shard of <paramref name="layer"/> that holds <paramref name="expert"/> (the same in every replica).</summary>
    public int ShardOfExpert(int layer, int expert) =>
        ExpertShards.FirstOrDefault(s => s.Layer == layer && s.Replica == 0 && s.Experts.Contains(expert))?.Shard
        ?? throw new ArgumentException($"the plan has no expert {expert} in layer {layer}");

    public AttentionRankPlacement? FindRank(int rank) => AttentionRanks.FirstOrDefault(r => r.Rank == rank);

    /// <summary>Whether <paramref name="shard"/> is a layer's shared-expert shard (<see cref="SharedExperts"/> = shards).</summary>
    public bool IsSharedExpertShard(ExpertShardPlacement shard)
    {
        ArgumentNullException.ThrowIfNull(shard);
        return SharedExperts == SharedExpertPlacement.Shards && shard.Shard == ShardsPerLayer;
    }

    /// <summary>
    /// The silo the plan names for a grain (an expert shard replica, an attention rank, or stage s of a rank), or null
    /// when the plan has no such grain.
    /// </summary>
    public SiloInventory? SiloFor(PlacementKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        string? silo = key.Kind == PlacementKind.ExpertShard
            ? FindShard(key.Layer, key.Shard, key.Replica)?.Silo
            : key.Stage == 0 ? FindRank(key.Rank)?.Silo : FindRank(key.Rank)?.FindStage(key.Stage)?.Silo;
        return silo is null ? null : Inventory.Find(silo);
    }

    /// <summary>
    /// The device the plan names for a grain (<c>cuda:N</c> or <c>cpu</c>): an expert shard replica's, or stage s of a rank
    /// (a rank without stages: its first device); null when the plan has no such grain.
    /// </summary>
    public string? DeviceFor(PlacementKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Kind == PlacementKind.ExpertShard) return FindShard(key.Layer, key.Shard, key.Replica)?.Device;
        var rank = FindRank(key.Rank);
        return rank?.FindStage(key.Stage)?.Device ?? (key.Stage == 0 && rank is { Devices.IsDefaultOrEmpty: false } ? rank.Devices[0] : null);
    }

    /// <summary>One line: shards, ranks and totals.</summary>
    public string Summary => string.Create(CultureInfo.InvariantCulture,
        $"{Footprint.MoeLayers.Length} MoE layers × {ShardsPerLayer} shards × {Replicas} replica(s) = {ExpertShards.Length} expert shards, " +
        $"{AttentionRanks.Length} attention rank(s) × {StagesPerRank} stage(s){(SharedExperts == SharedExpertPlacement.Shards ? ", shared experts as shards" : "")}; weights {ByteSize.Format(TotalExpertBytes + TotalNonExpertBytes)} + KV {ByteSize.Format(TotalKvBytes)} " +
        $"on {Memory.Length} devices of {ByteSize.Format(TotalCapacityBytes)}, {ByteSize.Format(TotalFreeBytes)} free after {Headroom * 100:0.#}% headroom");
}

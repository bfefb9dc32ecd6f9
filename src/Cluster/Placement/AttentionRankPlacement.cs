using System.Collections.Immutable;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// One attention rank of the plan: a full copy of the non-expert weights (<see cref="NonExpertBytes"/>, less the shared
/// experts when the plan runs them as shards) and a KV budget (<see cref="KvBytes"/>), cut into <see cref="Stages"/>, each
/// on one device. <see cref="Silo"/> and <see cref="Devices"/> are stage 0's (where the rank's <c>AttentionGrain</c> lives).
/// Plans written before stages existed have no <c>stages</c>; <see cref="PlacementPlanJson"/> reads such a rank as one
/// stage of every layer on its first device.
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.AttentionRankPlacement")]
public sealed record AttentionRankPlacement(
    [property: Id(0)] int Rank,
    [property: Id(1)] string Silo,
    [property: Id(2)] ImmutableArray<string> Devices,
    [property: Id(3)] long NonExpertBytes,
    [property: Id(4)] long KvBytes,
    [property: Id(5)] ImmutableArray<AttentionStagePlacement> Stages = default)
{
    public PlacementKey Key => PlacementKey.ForAttentionRank(Rank);

    public AttentionStagePlacement? FindStage(int stage) => Stages.IsDefault ? null : Stages.FirstOrDefault(s => s.Stage == stage);
}

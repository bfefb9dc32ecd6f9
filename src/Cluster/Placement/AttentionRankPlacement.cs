using System.Collections.Immutable;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// One attention-rank grain of the plan: a full copy of the non-expert weights and a KV budget, on one
/// device or split evenly over several devices of one silo (<see cref="Devices"/>).
/// </summary>
[GenerateSerializer, Immutable, Alias("l4c.AttentionRankPlacement")]
public sealed record AttentionRankPlacement(
    [property: Id(0)] int Rank,
    [property: Id(1)] string Silo,
    [property: Id(2)] ImmutableArray<string> Devices,
    [property: Id(3)] long NonExpertBytes,
    [property: Id(4)] long KvBytes)
{
    public PlacementKey Key => PlacementKey.ForAttentionRank(Rank);
}

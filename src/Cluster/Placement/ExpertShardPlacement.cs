using System.Collections.Immutable;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>One expert-shard grain of the plan: the experts of one MoE layer it holds and the device that holds them.</summary>
[GenerateSerializer, Immutable, Alias("l4c.ExpertShardPlacement")]
public sealed record ExpertShardPlacement(
    [property: Id(0)] int Layer,
    [property: Id(1)] int Shard,
    [property: Id(2)] int Replica,
    [property: Id(3)] ImmutableArray<int> Experts,
    [property: Id(4)] string Silo,
    [property: Id(5)] string Device,
    [property: Id(6)] long Bytes)
{
    public PlacementKey Key => PlacementKey.ForExpertShard(Layer, Shard, Replica);
}

namespace Llama4Cluster.Cluster.Placement;

/// <summary>The two kinds of planned grain.</summary>
public enum PlacementKind
{
    ExpertShard,
    AttentionRank,
}

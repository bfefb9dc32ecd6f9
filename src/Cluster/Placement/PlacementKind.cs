namespace Llama4Cluster.Silos.Placement;

/// <summary>The two kinds of planned grain.</summary>
public enum PlacementKind
{
    ExpertShard,
    AttentionRank,
}

namespace Llama4Cluster.Cluster.Placement;

/// <summary>The constraint that binds when a model does not fit (<see cref="PlacementShortfall.Constraint"/>).</summary>
public enum PlacementConstraint
{
    /// <summary>No silo has a role that can hold attention ranks, or none that can hold experts.</summary>
    Roles,
    /// <summary>All the weights and KV budgets together exceed the cluster's usable memory.</summary>
    TotalMemory,
    /// <summary>One pipeline stage (at the finest cut, or at the stage count asked for) exceeds the largest attention-capable device.</summary>
    StageDevice,
    /// <summary>The ranks' stages, one device each, find no room on the attention-capable devices.</summary>
    AttentionDevices,
    /// <summary>The expert shards do not fit what the expert-capable devices have left after the attention stages.</summary>
    ExpertDevices,
}

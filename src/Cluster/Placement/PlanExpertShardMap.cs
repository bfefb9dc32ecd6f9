using System.Collections.Immutable;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// The experts of each shard as a <see cref="PlacementPlan"/> assigns them (replica 0; every replica of a shard holds
/// the same experts). Used by the dispatcher and the shard grains of a silo whose <see cref="IPlacementPlanProvider"/>
/// has a plan; <see cref="EvenExpertShardMap"/> otherwise.
/// </summary>
public sealed class PlanExpertShardMap : IExpertShardMap
{
    private readonly Dictionary<int, int[]> _shardOf = new();
    private readonly Dictionary<int, int[][]> _experts = new();

    /// <param name="plan">The plan.</param>
    /// <param name="experts">Routed experts per MoE layer of the model served; every one must be in exactly one shard.</param>
    public PlanExpertShardMap(PlacementPlan plan, int experts)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentOutOfRangeException.ThrowIfLessThan(experts, 1);
        Shards = plan.ShardsPerLayer;
        Replicas = plan.Replicas;
        foreach (var layer in plan.Footprint.MoeLayers)
        {
            var shardOf = new int[experts];
            Array.Fill(shardOf, -1);
            var lists = new int[Shards][];
            foreach (var shard in plan.ExpertShards.Where(s => s.Layer == layer && s.Replica == 0))
            {
                if (plan.IsSharedExpertShard(shard)) continue; // holds the shared expert, no routed one
                if (shard.Shard < 0 || shard.Shard >= Shards)
                    throw new ArgumentException($"the plan's layer {layer} has shard {shard.Shard}, outside 0..{Shards - 1}");
                if (lists[shard.Shard] is not null)
                    throw new ArgumentException($"the plan lists layer {layer} shard {shard.Shard} (replica 0) twice");
                var sorted = shard.Experts.Order().ToArray();
                foreach (int e in sorted)
                {
                    if (e < 0 || e >= experts)
                        throw new ArgumentException($"the plan puts expert {e} in layer {layer} shard {shard.Shard}, but the model has experts 0..{experts - 1}");
                    if (shardOf[e] >= 0)
                        throw new ArgumentException($"the plan puts expert {e} of layer {layer} in shards {shardOf[e]} and {shard.Shard}");
                    shardOf[e] = shard.Shard;
                }
                lists[shard.Shard] = sorted;
            }
            for (int s = 0; s < Shards; s++)
                if (lists[s] is null) throw new ArgumentException($"the plan has no layer {layer} shard {s}");
            int missing = Array.IndexOf(shardOf, -1);
            if (missing >= 0) throw new ArgumentException($"the plan puts expert {missing} of layer {layer} in no shard (the model has {experts} experts per layer)");
            _shardOf[layer] = shardOf;
            _experts[layer] = lists;
        }
        Layers = [.. plan.Footprint.MoeLayers];
    }

    public int Replicas { get; }

    public int Shards { get; }

    /// <summary>The MoE layers the plan covers.</summary>
    public ImmutableArray<int> Layers { get; }

    public int ShardCount(int layer) => Layer(_experts, layer).Length;

    public int ShardOf(int layer, int expert) => Layer(_shardOf, layer)[expert];

    public IReadOnlyList<int> ExpertsOf(int layer, int shard) => Layer(_experts, layer)[shard];

    private static T Layer<T>(Dictionary<int, T> map, int layer) => map.TryGetValue(layer, out var value)
        ? value
        : throw new ArgumentException($"the placement plan has no MoE layer {layer} (it has [{string.Join(",", map.Keys.Order())}])");
}

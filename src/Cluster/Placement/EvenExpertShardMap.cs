namespace Llama4Cluster.Cluster.Placement;

/// <summary>
/// The static assignment used until the placement planner supplies one: the E experts of every MoE layer
/// split into S contiguous ranges whose sizes differ by at most one (shard s holds
/// <c>[⌊sE/S⌋, ⌊(s+1)E/S⌋)</c>). Contiguous ranges keep each shard's rows contiguous in a dispatch batch,
/// which is grouped by expert ascending.
/// </summary>
public sealed class EvenExpertShardMap : IExpertShardMap
{
    private readonly int[] _shardOf;
    private readonly int[][] _experts;

    public EvenExpertShardMap(int experts, int shards, int replicas = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(experts, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        Replicas = replicas;
        if (shards < 1 || shards > experts)
            throw new ArgumentOutOfRangeException(nameof(shards), shards, $"shards per layer must be in 1..{experts} (the layer's expert count)");
        Experts = experts;
        Shards = shards;
        _shardOf = new int[experts];
        _experts = new int[shards][];
        for (int s = 0; s < shards; s++)
        {
            int from = (int)((long)s * experts / shards), to = (int)((long)(s + 1) * experts / shards);
            _experts[s] = Enumerable.Range(from, to - from).ToArray();
            for (int e = from; e < to; e++) _shardOf[e] = s;
        }
    }

    public int Experts { get; }

    public int Shards { get; }

    public int Replicas { get; }

    public int ShardCount(int layer) => Shards;

    public int ShardOf(int layer, int expert) => _shardOf[expert];

    public IReadOnlyList<int> ExpertsOf(int layer, int shard) => _experts[shard];
}

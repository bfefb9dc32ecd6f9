using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// Which attention ranks and expert shards have answered <c>DescribeAsync</c> (placed, weights loaded), as
/// <see cref="ClusterWarmupService"/> finds out; read by <c>GET /ready</c>. Thread-safe.
/// </summary>
public sealed class ClusterReadiness
{
    private readonly object _gate = new();
    private readonly HashSet<int> _ranks = new();
    private readonly HashSet<ExpertShardKey> _shards = new();
    private string _status = ReadinessSnapshot.Loading;
    private string? _detail = "starting";

    public ClusterReadiness(int attentionRanks, IReadOnlyList<ExpertShardKey> shards)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attentionRanks, 1);
        ArgumentNullException.ThrowIfNull(shards);
        AttentionRanks = attentionRanks;
        Shards = shards;
    }

    public int AttentionRanks { get; }

    /// <summary>Every expert shard of the model: (MoE layer, shard) for each MoE layer and each of its shards.</summary>
    public IReadOnlyList<ExpertShardKey> Shards { get; }

    public bool IsReady
    {
        get
        {
            lock (_gate) return _status == ReadinessSnapshot.Ready;
        }
    }

    public ReadinessSnapshot Snapshot()
    {
        lock (_gate) return new ReadinessSnapshot(_status, _ranks.Count, AttentionRanks, _shards.Count, Shards.Count, _detail);
    }

    internal bool IsRankLoaded(int rank)
    {
        lock (_gate) return _ranks.Contains(rank);
    }

    internal bool IsShardLoaded(ExpertShardKey key)
    {
        lock (_gate) return _shards.Contains(key);
    }

    internal void RankLoaded(int rank)
    {
        lock (_gate) _ranks.Add(rank);
    }

    internal void ShardLoaded(ExpertShardKey key)
    {
        lock (_gate) _shards.Add(key);
    }

    /// <summary>Still loading; <paramref name="detail"/> says what it waits for.</summary>
    internal void Waiting(string detail)
    {
        lock (_gate)
        {
            if (_status == ReadinessSnapshot.Loading) _detail = detail;
        }
    }

    internal void Ready()
    {
        lock (_gate)
        {
            _status = ReadinessSnapshot.Ready;
            _detail = null;
        }
    }

    internal void Failed(string error)
    {
        lock (_gate)
        {
            _status = ReadinessSnapshot.Failed;
            _detail = error;
        }
    }
}

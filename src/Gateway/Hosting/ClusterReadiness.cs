using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// What <c>GET /ready</c> reports, as a state machine. During start-up (<c>loading</c>) <see cref="ClusterWarmupService"/> records
/// each attention rank and expert shard as it answers, and ends in <c>ready</c> (<see cref="HasStarted"/> from then on) or, for
/// a grain that cannot load, <c>failed</c> (final). After start, every check of <see cref="ClusterHealthCheck"/> sets
/// <c>ready</c> when everything answered and <c>unavailable</c> (naming what did not) otherwise, in both directions as often
/// as the cluster changes. Thread-safe.
/// </summary>
public sealed class ClusterReadiness
{
    private readonly object _gate = new();
    private readonly HashSet<int> _ranks = new();
    private readonly HashSet<ExpertShardKey> _shards = new();
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private string _status = ReadinessSnapshot.Loading;
    private string? _detail = "starting";
    private IReadOnlyList<string> _missing = [];
    private DateTimeOffset? _checkedAt;

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

    /// <summary>True while the status is <c>ready</c>.</summary>
    public bool IsReady
    {
        get
        {
            lock (_gate) return _status == ReadinessSnapshot.Ready;
        }
    }

    /// <summary>True once start-up has ended ready, whatever later checks find: the cluster has served.</summary>
    public bool HasStarted => _started.Task.IsCompleted;

    /// <summary>Completes when start-up ends ready.</summary>
    public Task WhenStarted => _started.Task;

    /// <summary>When the last check after start ended; null before the first.</summary>
    public DateTimeOffset? LastCheck
    {
        get
        {
            lock (_gate) return _checkedAt;
        }
    }

    public ReadinessSnapshot Snapshot()
    {
        lock (_gate) return new ReadinessSnapshot(_status, _ranks.Count, AttentionRanks, _shards.Count, Shards.Count, _detail, _missing, _checkedAt);
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

    /// <summary>Start-up ended: everything is placed and loaded.</summary>
    internal void Ready()
    {
        lock (_gate)
        {
            if (_status == ReadinessSnapshot.Failed) return;
            _status = ReadinessSnapshot.Ready;
            _detail = null;
        }
        _started.TrySetResult();
    }

    /// <summary>Start-up failed for good with <paramref name="error"/>.</summary>
    internal void Failed(string error)
    {
        lock (_gate)
        {
            if (HasStarted) return;
            _status = ReadinessSnapshot.Failed;
            _detail = error;
        }
    }

    /// <summary>
    /// A check after start: <c>ready</c> when everything answered, else <c>unavailable</c> naming what did not. Ignored before
    /// start (the warm-up owns the state then) and when older than the last check recorded.
    /// </summary>
    /// <returns>True when the status changed.</returns>
    internal bool Checked(ClusterCheckResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        lock (_gate)
        {
            if (!HasStarted || _checkedAt > result.At) return false;
            string before = _status;
            _ranks.Clear();
            _ranks.UnionWith(Enumerable.Range(0, AttentionRanks).Where(r => !result.MissingRanks.ContainsKey(r)));
            _shards.Clear();
            _shards.UnionWith(Shards.Where(k => !result.MissingShards.ContainsKey(k)));
            _status = result.AllAnswered ? ReadinessSnapshot.Ready : ReadinessSnapshot.Unavailable;
            _detail = result.AllAnswered ? null : "not answering: " + result.Describe();
            _missing = result.MissingNames();
            _checkedAt = result.At;
            return before != _status;
        }
    }
}

using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Gateway.Scheduling;

/// <summary>
/// When each attention rank last answered a step successfully (<see cref="ActivityRecordingStepBackend"/> records it). A rank
/// grain runs one call at a time, so a readiness probe may wait behind a long step: a recent successful step is the evidence
/// that such a rank is busy rather than gone. Thread-safe.
/// </summary>
public sealed class RankActivity
{
    private readonly long[] _lastSuccess;
    private readonly TimeProvider _time;

    public RankActivity(int attentionRanks, TimeProvider? time = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(attentionRanks, 1);
        _lastSuccess = new long[attentionRanks];
        Array.Fill(_lastSuccess, long.MinValue);
        _time = time ?? TimeProvider.System;
    }

    /// <summary>Records that <paramref name="rank"/> answered a step successfully now.</summary>
    public void Succeeded(int rank)
    {
        if ((uint)rank < (uint)_lastSuccess.Length)
            Interlocked.Exchange(ref _lastSuccess[rank], _time.GetTimestamp());
    }

    /// <summary>True when <paramref name="rank"/> answered a step successfully within the last <paramref name="window"/>.</summary>
    public bool SucceededWithin(int rank, TimeSpan window)
    {
        if ((uint)rank >= (uint)_lastSuccess.Length) return false;
        long last = Interlocked.Read(ref _lastSuccess[rank]);
        return last != long.MinValue && _time.GetElapsedTime(last) <= window;
    }

    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, AttentionRankInfo> _dispatch = new();

    /// <summary>Records what a rank last said of its expert dispatch (its description): retried and hedged dispatches since
    /// its activation and the replicas it has out of rotation now.</summary>
    public void RecordDispatch(int rank, AttentionRankInfo info) => _dispatch[rank] = info;

    /// <summary>Expert dispatches the ranks retried (on another replica, or after a pause), as last reported.</summary>
    public long DispatchRetries => _dispatch.Values.Sum(d => d.DispatchRetries);

    /// <summary>Expert dispatches the ranks also sent to a second replica because the first was late, as last reported.</summary>
    public long DispatchHedges => _dispatch.Values.Sum(d => d.DispatchHedges);

    /// <summary>Expert-shard replicas the ranks have out of rotation now, as last reported (a replica counts once per rank).</summary>
    public int ReplicasDown => _dispatch.Values.Sum(d => d.ReplicasDown);

    /// <summary>Replicas of every expert shard (as the ranks report it; 0 before any report).</summary>
    public int ExpertReplicas => _dispatch.Values.Select(d => d.ExpertReplicas).DefaultIfEmpty(0).Max();

    /// <summary>The shards (layer, shard) that some rank sees with replicas out of rotation, and how many replicas are live
    /// for them: the replicas no rank has out (a replica one rank cannot reach counts as down).</summary>
    public IReadOnlyDictionary<(int Layer, int Shard), int> DegradedShards()
    {
        int replicas = ExpertReplicas;
        return _dispatch.Values
            .SelectMany(d => d.DownReplicas.IsDefault ? [] : d.DownReplicas)
            .Select(ExpertShardKey.Parse)
            .Distinct()
            .GroupBy(k => (k.Layer, k.Shard))
            .ToDictionary(g => g.Key, g => Math.Max(0, replicas - g.Count()));
    }
}

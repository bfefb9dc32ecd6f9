using System.Collections.Concurrent;
using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// Which expert-shard replicas a dispatcher sends to. A replica whose call failed (a reset connection fails at once) or
/// stalled past the replica timeout is down: dispatches skip it, and a background probe
/// (<see cref="IExpertShardTransport.ResolveAsync"/>, bounded, retried with a doubling pause) brings it back once it
/// answers — on a restarted silo, or re-activated on a surviving one after Orleans has declared its silo dead. A call
/// never waits on a replica known to be down. Thread-safe.
/// </summary>
public sealed class ReplicaHealth(IExpertShardTransport transport, TimeSpan probeTimeout) : IDisposable
{
    private static readonly TimeSpan s_firstPause = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan s_maxPause = TimeSpan.FromSeconds(5);

    private readonly ConcurrentDictionary<ExpertShardKey, bool> _down = new();
    private readonly CancellationTokenSource _stop = new();
    private long _markedDown;

    public bool IsUp(ExpertShardKey key) => !_down.ContainsKey(key);

    /// <summary>Replicas taken out of rotation since start.</summary>
    public long MarkedDown => Interlocked.Read(ref _markedDown);

    /// <summary>Replicas out of rotation now.</summary>
    public int DownNow => _down.Count;

    /// <summary>Which replicas are out of rotation now.</summary>
    public IReadOnlyList<ExpertShardKey> Down => [.. _down.Keys];

    /// <summary>Takes the replica out of rotation and probes it until it answers.</summary>
    public void MarkDown(ExpertShardKey key)
    {
        if (!_down.TryAdd(key, true)) return;
        Interlocked.Increment(ref _markedDown);
        _ = ProbeUntilUpAsync(key);
    }

    private async Task ProbeUntilUpAsync(ExpertShardKey key)
    {
        var pause = s_firstPause;
        var token = _stop.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                await Task.Delay(pause, token).ConfigureAwait(false);
                try
                {
                    await transport.ResolveAsync(key, token).WaitAsync(probeTimeout, token).ConfigureAwait(false);
                    _down.TryRemove(key, out _);
                    return;
                }
                catch (Exception) when (!token.IsCancellationRequested)
                {
                    pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, s_maxPause.Ticks));
                }
            }
        }
        catch (OperationCanceledException) when (token.IsCancellationRequested)
        {
            // The dispatcher is gone.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _stop.Dispose();
    }
}

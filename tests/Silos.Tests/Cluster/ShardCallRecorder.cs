using System.Collections.Concurrent;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Silos.Experts;

namespace Llama4Cluster.Silos.Tests.Cluster;

/// <summary>
/// An expert-shard observer on every test silo: records each request a shard computes, whether a grain call or the
/// socket data plane brought it (rank, step, pass, layer, shard, rows), and can hold the requests to one shard until
/// released, to play a shard that never answers.
/// </summary>
public sealed class ShardCallRecorder : IExpertShardObserver
{
    private readonly ConcurrentQueue<ExpertShardRequest> _calls = new();
    private volatile Hang? _hang;

    public static ShardCallRecorder Instance { get; } = new();

    public IReadOnlyList<ExpertShardRequest> Calls => _calls.ToArray();

    public void Clear() => _calls.Clear();

    /// <summary>Holds every ComputeAsync to (layer, shard) until the returned handle is disposed.</summary>
    public IDisposable HangShard(int layer, int shard)
    {
        var hang = new Hang(layer, shard);
        _hang = hang;
        return hang;
    }

    public async ValueTask OnRequestAsync(ExpertShardRequest request, CancellationToken cancellationToken)
    {
        _calls.Enqueue(request);
        if (_hang is { } hang && hang.Layer == request.Layer && hang.Shard == request.Shard)
            await hang.Released.Task; // deliberately ignores cancellation: a shard that never answers
    }

    private sealed class Hang(int layer, int shard) : IDisposable
    {
        public int Layer { get; } = layer;
        public int Shard { get; } = shard;
        public TaskCompletionSource Released { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Dispose()
        {
            if (Instance._hang == this) Instance._hang = null;
            Released.TrySetResult();
        }
    }
}

using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Silos.Experts;
using Llama4Cluster.Silos.Tensors;
using TorchSharp;

namespace Llama4Cluster.Silos.Tests.Faults;

/// <summary>
/// The dispatcher's replica failover, in process, over a scripted transport whose shards compute a known function of
/// their rows: a dead replica (its call fails at once) or a stalled one (it never answers) is left for another replica
/// within the same dispatch, and the outputs equal those of a healthy cluster; with no replica left it waits for one to
/// come back, up to the shard timeout.
/// </summary>
public sealed class ReplicaFailoverTests
{
    private const int Experts = 4, Hidden = 8;

    [Fact]
    public async Task ADeadReplicaIsLeftForItsSiblingWithinTheDispatchAndTheOutputsAreUnchanged()
    {
        var healthy = await DispatchAsync(new ScriptedTransport(), steps: 4);
        var transport = new ScriptedTransport { Dead = { 0 } };
        using var dispatcher = Dispatcher(transport);
        var outputs = await DispatchAsync(transport, steps: 4, dispatcher);

        Assert.Equal(healthy, outputs);
        Assert.All(transport.Answered, key => Assert.Equal(1, key.Replica)); // every answer came from the live replica
        Assert.True(dispatcher.Statistics.Retries >= 1);
        Assert.True(dispatcher.Replicas.DownNow >= 1); // replica 0 stays out of rotation while its probe fails
    }

    [Fact]
    public async Task AStalledReplicaIsLeftAfterTheReplicaTimeout()
    {
        var healthy = await DispatchAsync(new ScriptedTransport(), steps: 2);
        var transport = new ScriptedTransport { Stalled = { 1 } };
        using var dispatcher = Dispatcher(transport, replicaTimeout: TimeSpan.FromMilliseconds(200));
        var outputs = await DispatchAsync(transport, steps: 2, dispatcher);
        Assert.Equal(healthy, outputs);
        Assert.All(transport.Answered, key => Assert.Equal(0, key.Replica));
    }

    [Fact]
    public async Task AReplicaThatNeitherAnswersNorFailsIsHedgedLongBeforeTheReplicaTimeout()
    {
        // A killed silo's sockets stay open while the kernel tears the process down: its calls hang, then fail. The
        // dispatcher has learned how long answers take and sends the rows to the sibling too once that is exceeded.
        var healthy = await DispatchAsync(new ScriptedTransport(), steps: 4);
        var transport = new ScriptedTransport();
        using var dispatcher = Dispatcher(transport, shardTimeout: TimeSpan.FromMinutes(2), replicaTimeout: TimeSpan.FromMinutes(1));
        var warm = await DispatchAsync(transport, steps: 4, dispatcher);
        Assert.Equal(healthy, warm);
        Assert.Equal(0, dispatcher.Statistics.Hedges);

        transport.Stalled.Add(1);
        // Both shards have replica 1 first in one of these two steps; only a hedge finishes them before the minute.
        var outputs = await DispatchAsync(transport, steps: 2, dispatcher).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(healthy[..outputs.Length], outputs);
        Assert.True(dispatcher.Statistics.Hedges >= 1, $"hedges: {dispatcher.Statistics.Hedges}");
        Assert.Equal(0, dispatcher.Statistics.Retries); // the stalled replica has not failed (yet): it is not marked down
    }

    [Fact]
    public async Task ACancelledStepEndsItsDispatchAsCancelledAndMarksNoReplicaDown()
    {
        var transport = new ScriptedTransport { Stalled = { 0, 1 } };
        using var dispatcher = Dispatcher(transport);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(200));
        using var batch = new ExpertDispatchBatch(torch.ones(3, Hidden), torch.zeros(3, torch.int64), [0, 2], [1, 2]);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dispatcher.DispatchAsync(1, batch, new DispatchContext(0, 0), cancel.Token).AsTask());
        Assert.Equal(0, dispatcher.Replicas.DownNow);
    }

    [Fact]
    public async Task WithNoReplicaLeftTheDispatchWaitsForOneToComeBack()
    {
        var healthy = await DispatchAsync(new ScriptedTransport(), steps: 1);
        var transport = new ScriptedTransport { Dead = { 0, 1 } };
        using var dispatcher = Dispatcher(transport);
        var dispatch = DispatchAsync(transport, steps: 1, dispatcher);
        // Both replicas failed once, and at least one retry with none left failed too.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (Volatile.Read(ref transport.Failures) < 3) { Assert.True(DateTime.UtcNow < until, "the dispatch never tried"); await Task.Delay(10); }
        Assert.False(dispatch.IsCompleted);
        transport.Dead.Clear(); // a replica re-activated on a surviving silo
        Assert.Equal(healthy, await dispatch.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(dispatcher.Statistics.Recovered >= 1);
    }

    [Fact]
    public async Task WhenNothingAnswersWithinTheShardTimeoutTheErrorNamesLayerShardAndLastError()
    {
        var transport = new ScriptedTransport { Dead = { 0, 1 } };
        using var dispatcher = Dispatcher(transport, shardTimeout: TimeSpan.FromMilliseconds(600));
        var e = await Assert.ThrowsAsync<ExpertShardTimeoutException>(() => DispatchAsync(transport, steps: 1, dispatcher));
        Assert.Contains("MoE layer 1", e.Message);
        Assert.Contains("connection reset", e.Message);
    }

    private static RemoteExpertDispatcher Dispatcher(ScriptedTransport transport, TimeSpan? shardTimeout = null, TimeSpan? replicaTimeout = null) =>
        new(rank: 0, transport, new EvenExpertShardMap(Experts, shards: 2, replicas: 2), WireDType.Float32, torch.ScalarType.Float32,
            torch.CPU, shardTimeout ?? TimeSpan.FromSeconds(30), replicaTimeout ?? TimeSpan.FromSeconds(2));

    /// <summary>One dispatch per step of a fixed batch (rows for every expert); the outputs of all steps, flattened.</summary>
    private static async Task<float[]> DispatchAsync(ScriptedTransport transport, int steps, RemoteExpertDispatcher? dispatcher = null)
    {
        using var owned = dispatcher is null ? Dispatcher(transport) : null;
        var d = dispatcher ?? owned!;
        var all = new List<float>();
        for (int step = 0; step < steps; step++)
        {
            using var batch = new ExpertDispatchBatch(torch.tensor(Enumerable.Range(0, 7 * Hidden).Select(i => i / 10f).ToArray()).reshape(7, Hidden),
                torch.zeros(7, torch.int64),
                [0, 1, 2, 3], [2, 1, 3, 1]);
            using var output = await d.DispatchAsync(1, batch, new DispatchContext(step, 0), CancellationToken.None);
            all.AddRange(output.data<float>().ToArray());
        }

        return [.. all];
    }

    /// <summary>Shards computing <c>(expert + 1) · row</c>; replicas in <see cref="Dead"/> fail at once, those in
    /// <see cref="Stalled"/> never answer.</summary>
    private sealed class ScriptedTransport : IExpertShardTransport
    {
        public HashSet<int> Dead { get; } = new();

        public HashSet<int> Stalled { get; } = new();

        public System.Collections.Concurrent.ConcurrentBag<ExpertShardKey> Answered { get; } = new();

        /// <summary>Calls that failed because their replica was dead.</summary>
        public int Failures;

        public async Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken)
        {
            await Task.Yield();
            if (Dead.Contains(request.Replica))
            {
                Interlocked.Increment(ref Failures);
                throw new IOException("connection reset by peer");
            }
            if (Stalled.Contains(request.Replica)) await Task.Delay(Timeout.Infinite, cancellationToken);
            using var scope = torch.NewDisposeScope();
            var rows = TensorPayloads.ToTensor(request.Inputs, torch.ScalarType.Float32, torch.CPU);
            var factors = request.ExpertIds.Zip(request.Counts).SelectMany(p => Enumerable.Repeat((float)(p.First + 1), p.Second)).ToArray();
            var outputs = rows.mul(torch.tensor(factors).unsqueeze(1));
            Answered.Add(request.Key);
            return new ExpertShardResponse(TensorPayloads.ToPayload(outputs, WireDType.Float32), 0.1);
        }

        public Task ResolveAsync(ExpertShardKey key, CancellationToken cancellationToken) =>
            Dead.Contains(key.Replica) ? Task.FromException(new IOException("connection refused")) : Task.CompletedTask;
    }
}

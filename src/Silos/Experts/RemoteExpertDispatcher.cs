using System.Collections.Immutable;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Silos.Diagnostics;
using Llama4Cluster.Silos.Tensors;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// The cluster's <see cref="IExpertDispatcher"/>: splits a MoE layer's dispatch rows by owning shard and sends
/// exactly one request per shard that has rows (through an <see cref="IExpertShardTransport"/>: a grain call or the
/// socket data plane) — none to empty shards,
/// never one per token or per expert — all in flight at once, then reassembles the outputs row-aligned. With replicas
/// (<see cref="IExpertShardMap.Replicas"/>) each request goes to one live replica, spread by step, layer and shard; a
/// replica that fails (a reset connection fails at once) or does not answer within the replica timeout while another is
/// live is marked down (<see cref="ReplicaHealth"/>) and the same request goes to the next one within the same step —
/// every replica computes the same rows the same way, so the output does not change. A request not answered by the hedge
/// time (<see cref="HedgeTimer"/>) is also sent to the next live replica, and the first answer wins. When no replica is left, it keeps
/// trying every replica (the shard re-activates on a surviving silo once Orleans declares the dead one, loading its
/// experts) until the shard timeout, then fails the step with <see cref="ExpertShardTimeoutException"/> naming the layer,
/// shard and last error. With <c>--shared-experts shards</c> the layer's input goes to its shared-expert shard in the same
/// round (<see cref="DispatchWithSharedAsync"/>). Not thread-safe: one step at a time (its attention grain is not reentrant).
/// </summary>
public sealed class RemoteExpertDispatcher : ISharedExpertDispatcher, IDisposable
{
    private readonly IExpertShardTransport _transport;
    private readonly IExpertShardMap _map;
    private readonly WireDType _wire;
    private readonly ScalarType _computeDType;
    private readonly Device _device;
    private readonly TimeSpan _shardTimeout;
    private readonly TimeSpan _replicaTimeout;

    public RemoteExpertDispatcher(int rank, IExpertShardTransport transport, IExpertShardMap map, WireDType wire, ScalarType computeDType, Device device,
        TimeSpan shardTimeout, TimeSpan? replicaTimeout = null)
    {
        Rank = rank;
        _transport = transport;
        _map = map;
        _wire = wire;
        _computeDType = computeDType;
        _device = device;
        _shardTimeout = shardTimeout;
        _replicaTimeout = replicaTimeout is { } r && r < shardTimeout ? r : shardTimeout;
        Replicas = new ReplicaHealth(transport, _replicaTimeout);
        _hedge = new HedgeTimer(_replicaTimeout);
    }

    private readonly HedgeTimer _hedge;

    /// <summary>Which replicas this dispatcher sends to.</summary>
    public ReplicaHealth Replicas { get; }

    /// <summary>The attention rank on whose behalf calls are made (stamped on requests, with the step and pass of each
    /// dispatch's <see cref="DispatchContext"/>).</summary>
    public int Rank { get; }

    public DispatchStatistics Statistics { get; } = new();

    public async ValueTask<Tensor> DispatchAsync(int layer, ExpertDispatchBatch batch, DispatchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        using var activity = SiloTelemetry.Source.StartActivity("moe.dispatch");
        activity?.SetTag("llama4.layer", layer);
        activity?.SetTag("llama4.rows", batch.Rows);
        var parts = Split(layer, batch, context);
        activity?.SetTag("llama4.shards", parts.Count);
        var responses = await CallAllAsync(layer, parts, activity, cancellationToken);
        return Assemble(batch, parts, responses, parts.Count);
    }

    /// <summary>The routed rows as <see cref="DispatchAsync"/> and, in the same round of concurrent calls, the layer's input
    /// <paramref name="x"/> to its shared-expert shard (index <see cref="IExpertShardMap.ShardCount"/>, after the routed shards;
    /// replicas, hedging and failover as for any shard): one more request per MoE layer.</summary>
    public async ValueTask<(Tensor Routed, Tensor Shared)> DispatchWithSharedAsync(int layer, ExpertDispatchBatch batch, Tensor x, DispatchContext context,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(x);
        using var activity = SiloTelemetry.Source.StartActivity("moe.dispatch");
        activity?.SetTag("llama4.layer", layer);
        activity?.SetTag("llama4.rows", batch.Rows);
        var parts = Split(layer, batch, context);
        parts.Add(SharedPart(layer, x, context));
        activity?.SetTag("llama4.shards", parts.Count);
        var responses = await CallAllAsync(layer, parts, activity, cancellationToken);
        var routed = Assemble(batch, parts, responses, parts.Count - 1);
        try
        {
            return (routed, SharedOutput(parts[^1].Request, responses[^1], x.shape));
        }
        catch
        {
            routed.Dispose();
            throw;
        }
    }

    /// <summary>Sends every part at once and waits for all; the answers are in the parts' order.</summary>
    private async Task<ExpertShardResponse[]> CallAllAsync(int layer, List<ShardPart> parts, System.Diagnostics.Activity? activity,
        CancellationToken cancellationToken)
    {
        var calls = new Task<ExpertShardResponse>[parts.Count];
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < parts.Count; i++)
            calls[i] = CallAsync(parts[i], cancellationToken);
        ExpertShardResponse[] responses;
        try
        {
            responses = await Task.WhenAll(calls);
            var waited = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            Statistics.RecordWait(waited);
            SiloTelemetry.DispatchLatency.Record(waited.TotalSeconds, new KeyValuePair<string, object?>("layer", layer));
        }
        catch
        {
            // Report the timeout (it names layer and shard) in preference to secondary failures.
            var timeout = calls.Where(c => c.IsFaulted).Select(c => c.Exception!.InnerException).OfType<ExpertShardTimeoutException>().FirstOrDefault();
            activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, timeout?.Message ?? "an expert shard failed");
            if (timeout is not null) throw timeout;
            throw;
        }
        // A hedged request's rows may still be on their way to the losing replica: leave its buffer to the collector.
        foreach (var p in parts.Where(p => !p.Hedged)) p.Request.Inputs.ReturnBuffer();
        return responses;
    }

    private async Task<ExpertShardResponse> CallAsync(ShardPart part, CancellationToken cancellationToken)
    {
        var request = part.Request;
        Statistics.Record(request.Inputs.Data.Length);
        SiloTelemetry.DispatchBytes.Add(request.Inputs.Data.Length, new KeyValuePair<string, object?>("direction", "sent"));
        var deadline = DateTime.UtcNow + _shardTimeout;
        int replicas = _map.Replicas;
        int first = (int)((request.Step + request.Layer + request.Shard) % replicas);
        int rows = request.Counts.Sum();
        // The live replicas, spread by step, layer and shard. A failure moves on to the next at once; a replica that has
        // not answered by the hedge time gets a sibling sent the same rows, and the first answer wins.
        var live = Enumerable.Range(0, replicas).Select(i => (first + i) % replicas).Where(r => Replicas.IsUp(Key(request, r))).ToList();
        var inFlight = new List<(Task<ExpertShardResponse> Call, int Replica, long Started)>();
        Exception? last = null;
        int next = 0;
        while (next < live.Count || inFlight.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (inFlight.Count == 0) inFlight.Add(Start(request, live[next++], next < live.Count, deadline, cancellationToken));
            var done = await NextToFinishAsync(inFlight.Select(f => (Task)f.Call), next < live.Count ? _hedge.After(rows) : null);
            if (done is null)
            {
                part.Hedged = true;
                Statistics.RecordHedge();
                inFlight.Add(Start(request, live[next++], next < live.Count, deadline, cancellationToken));
                continue;
            }
            var finished = inFlight.First(f => f.Call == done);
            inFlight.Remove(finished);
            if (finished.Call.IsCompletedSuccessfully)
            {
                if (!part.Hedged) _hedge.Observe(rows, System.Diagnostics.Stopwatch.GetElapsedTime(finished.Started));
                foreach (var loser in inFlight) Abandon(loser.Call, Key(request, loser.Replica));
                return finished.Call.Result;
            }
            cancellationToken.ThrowIfCancellationRequested(); // a cancelled step ends its attempts as cancelled, not faulted
            var e = finished.Call.Exception?.InnerException ?? new OperationCanceledException("the attempt was cancelled");
            last = e;
            Replicas.MarkDown(Key(request, finished.Replica));
            Statistics.RecordRetry();
        }

        // No replica left: try them all again until the shard timeout, each attempt bounded by a growing share of it.
        var attempt = _replicaTimeout;
        var pause = TimeSpan.FromMilliseconds(50);
        while (DateTime.UtcNow < deadline)
        {
            for (int r = 0; r < replicas && DateTime.UtcNow < deadline; r++)
            {
                try
                {
                    var response = await AttemptAsync(request with { Replica = r }, Min(attempt, deadline - DateTime.UtcNow), cancellationToken);
                    Statistics.RecordRecovered();
                    return response;
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    // A replica's own error says more than an attempt cut short by what was left of the shard timeout.
                    if (e is not TimeoutException || last is null) last = e;
                    Statistics.RecordRetry();
                }
            }

            var left = deadline - DateTime.UtcNow;
            if (left > TimeSpan.Zero) await Task.Delay(Min(pause, left), cancellationToken);
            pause = Min(pause * 2, TimeSpan.FromSeconds(1));
            attempt *= 2;
        }

        throw new ExpertShardTimeoutException(request.Layer, request.Shard, _shardTimeout, last?.Message);
    }

    /// <summary>One call to one replica, bounded by <paramref name="bound"/> (WaitAsync bounds it even if the call ignores
    /// its token).</summary>
    private async Task<ExpertShardResponse> AttemptAsync(ExpertShardRequest request, TimeSpan bound, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(bound > TimeSpan.Zero ? bound : TimeSpan.FromMilliseconds(1));
        try
        {
            var response = await _transport.ComputeAsync(request, timeout.Token).WaitAsync(timeout.Token);
            Statistics.RecordResponse(response.Outputs.Data.Length);
            SiloTelemetry.DispatchBytes.Add(response.Outputs.Data.Length, new KeyValuePair<string, object?>("direction", "received"));
            Statistics.RecordShardCompute(response.ComputeMilliseconds);
            return response;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"replica {request.Replica} of layer {request.Layer} shard {request.Shard} did not answer within {bound.TotalSeconds:0.###} s");
        }
    }

    private static ExpertShardKey Key(ExpertShardRequest request, int replica) => new(request.Layer, request.Shard, replica);

    /// <summary>The first of <paramref name="calls"/> to finish, or null when <paramref name="hedgeAfter"/> passes first. No
    /// timer when there is nothing to hedge to (one replica, or the last one already in flight): the common path.</summary>
    private static async Task<Task?> NextToFinishAsync(IEnumerable<Task> calls, TimeSpan? hedgeAfter)
    {
        if (hedgeAfter is not { } after) return await Task.WhenAny(calls);
        using var hedgeWait = new CancellationTokenSource();
        var hedge = Task.Delay(after, hedgeWait.Token);
        var done = await Task.WhenAny([.. calls, hedge]);
        hedgeWait.Cancel();
        return done == hedge ? null : done;
    }

    /// <summary>Starts one attempt at <paramref name="replica"/>, bounded by the replica timeout while another replica
    /// remains to try and by what is left of the shard timeout otherwise.</summary>
    private (Task<ExpertShardResponse> Call, int Replica, long Started) Start(ExpertShardRequest request, int replica, bool another, DateTime deadline,
        CancellationToken cancellationToken)
    {
        var left = deadline - DateTime.UtcNow;
        var bound = another ? Min(_replicaTimeout, left) : left;
        return (AttemptAsync(request with { Replica = replica }, bound, cancellationToken), replica, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    /// <summary>A hedged attempt that lost the race runs to its end unobserved by the step: if it fails, its replica is
    /// down (a killed silo's calls fail once its sockets close); if it answers, its buffer goes back to the pool.</summary>
    private void Abandon(Task<ExpertShardResponse> call, ExpertShardKey key) =>
        _ = call.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) t.Result.Outputs.ReturnBuffer();
            else if (t.IsFaulted && t.Exception!.InnerException is not OperationCanceledException) Replicas.MarkDown(key);
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    public void Dispose() => Replicas.Dispose();

    /// <summary>Synchronous: the rows of each shard (contiguous runs of the expert-grouped batch), on the wire.</summary>
    private List<ShardPart> Split(int layer, ExpertDispatchBatch batch, DispatchContext context)
    {
        var byShard = new SortedDictionary<int, ShardBuilder>();
        int row = 0;
        for (int g = 0; g < batch.ExpertIds.Length; g++)
        {
            int expert = batch.ExpertIds[g], count = batch.Counts[g];
            if (count == 0) continue;
            SiloTelemetry.ExpertTokens.Add(count, new KeyValuePair<string, object?>("layer", layer), new KeyValuePair<string, object?>("expert", expert));
            int shard = _map.ShardOf(layer, expert);
            if (!byShard.TryGetValue(shard, out var b)) byShard[shard] = b = new ShardBuilder();
            b.Add(expert, count, row);
            row += count;
        }

        using var scope = NewDisposeScope();
        var parts = new List<ShardPart>(byShard.Count);
        foreach (var (shard, b) in byShard)
        {
            var rows = b.Runs.Count == 1
                ? batch.Inputs.narrow(0, b.Runs[0].Start, b.Runs[0].Count)
                : torch.cat(b.Runs.Select(r => batch.Inputs.narrow(0, r.Start, r.Count)).ToArray(), 0);
            var payload = TensorPayloads.ToPayload(rows, _wire, pooled: true);
            var request = new ExpertShardRequest(layer, shard, Rank, context.Step, [.. b.Experts], [.. b.Counts], payload, context.Pass);
            parts.Add(new ShardPart(request, b.Runs.ToImmutableArray()));
        }
        return parts;
    }

    /// <summary>Synchronous: every token's row of <paramref name="x"/> <c>[T, D]</c>, unscaled, for the layer's shared-expert shard.</summary>
    private ShardPart SharedPart(int layer, Tensor x, DispatchContext context)
    {
        using var scope = NewDisposeScope();
        int rows = (int)x.shape[0];
        var payload = TensorPayloads.ToPayload(x, _wire, pooled: true);
        var request = new ExpertShardRequest(layer, _map.ShardCount(layer), Rank, context.Step, [ExpertShardRequest.SharedExpert], [rows], payload, context.Pass);
        return new ShardPart(request, []);
    }

    /// <summary>Synchronous: the shared-expert shard's answer as a tensor of <paramref name="shape"/>, owned by the caller.</summary>
    private Tensor SharedOutput(ExpertShardRequest request, ExpertShardResponse response, long[] shape)
    {
        using var scope = NewDisposeScope();
        var result = TensorPayloads.ToTensor(response.Outputs, _computeDType, _device);
        response.Outputs.ReturnBuffer();
        if (!result.shape.SequenceEqual(shape))
            throw new InvalidOperationException($"the shared-expert shard {request.Shard} of layer {request.Layer} returned [{string.Join(", ", result.shape)}] for [{string.Join(", ", shape)}]");
        return result.DetachFromDisposeScope();
    }

    /// <summary>Synchronous: the first <paramref name="count"/> shards' outputs copied back into the batch's row order. Owned by the caller.</summary>
    private Tensor Assemble(ExpertDispatchBatch batch, List<ShardPart> parts, ExpertShardResponse[] responses, int count)
    {
        using var scope = NewDisposeScope();
        var output = torch.empty([batch.Rows, batch.Inputs.shape[1]], _computeDType, _device);
        for (int i = 0; i < count; i++)
        {
            var payload = responses[i].Outputs;
            var result = TensorPayloads.ToTensor(payload, _computeDType, _device);
            payload.ReturnBuffer();
            long at = 0;
            foreach (var run in parts[i].Runs)
            {
                output.narrow(0, run.Start, run.Count).copy_(result.narrow(0, at, run.Count));
                at += run.Count;
            }
            if (at != result.shape[0])
                throw new InvalidOperationException($"shard {parts[i].Request.Shard} of layer {parts[i].Request.Layer} returned {result.shape[0]} rows for {at}");
        }
        return output.DetachFromDisposeScope();
    }

    private readonly record struct RowRun(int Start, int Count);

    private sealed class ShardPart(ExpertShardRequest request, ImmutableArray<RowRun> runs)
    {
        public ExpertShardRequest Request { get; } = request;

        public ImmutableArray<RowRun> Runs { get; } = runs;

        /// <summary>Sent to a second replica while the first had not answered.</summary>
        public bool Hedged { get; set; }
    }

    private sealed class ShardBuilder
    {
        public List<int> Experts { get; } = new();
        public List<int> Counts { get; } = new();
        public List<RowRun> Runs { get; } = new();

        public void Add(int expert, int count, int row)
        {
            Experts.Add(expert);
            Counts.Add(count);
            if (Runs.Count > 0 && Runs[^1].Start + Runs[^1].Count == row)
                Runs[^1] = Runs[^1] with { Count = Runs[^1].Count + count };
            else
                Runs.Add(new RowRun(row, count));
        }
    }
}

using System.Collections.Immutable;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Silos.Tensors;
using Polly;
using Polly.Timeout;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// The cluster's <see cref="IExpertDispatcher"/>: splits a MoE layer's dispatch rows by owning shard and sends
/// exactly one request per shard that has rows (through an <see cref="IExpertShardTransport"/>: a grain call or the
/// socket data plane) — none to empty shards,
/// never one per token or per expert — all in flight at once, then reassembles the outputs row-aligned. Each
/// call is bounded by a Polly timeout whose token is carried into the call, so a shard that does not
/// answer fails the step with <see cref="ExpertShardTimeoutException"/> naming the layer and shard.
/// Not thread-safe: one step at a time (its attention grain is not reentrant).
/// </summary>
public sealed class RemoteExpertDispatcher : IExpertDispatcher
{
    private readonly IExpertShardTransport _transport;
    private readonly IExpertShardMap _map;
    private readonly WireDType _wire;
    private readonly ScalarType _computeDType;
    private readonly Device _device;
    private readonly ResiliencePipeline _timeout;
    private readonly TimeSpan _shardTimeout;

    public RemoteExpertDispatcher(int rank, IExpertShardTransport transport, IExpertShardMap map, WireDType wire, ScalarType computeDType, Device device,
        TimeSpan shardTimeout)
    {
        Rank = rank;
        _transport = transport;
        _map = map;
        _wire = wire;
        _computeDType = computeDType;
        _device = device;
        _shardTimeout = shardTimeout;
        _timeout = new ResiliencePipelineBuilder().AddTimeout(shardTimeout).Build();
    }

    /// <summary>The attention rank on whose behalf calls are made (stamped on requests, with the step and pass of each
    /// dispatch's <see cref="DispatchContext"/>).</summary>
    public int Rank { get; }

    public DispatchStatistics Statistics { get; } = new();

    public async ValueTask<Tensor> DispatchAsync(int layer, ExpertDispatchBatch batch, DispatchContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var parts = Split(layer, batch, context);
        var calls = new Task<ExpertShardResponse>[parts.Count];
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        for (int i = 0; i < parts.Count; i++)
            calls[i] = CallAsync(parts[i], cancellationToken);
        ExpertShardResponse[] responses;
        try
        {
            responses = await Task.WhenAll(calls);
            Statistics.RecordWait(System.Diagnostics.Stopwatch.GetElapsedTime(started));
        }
        catch
        {
            // Report the timeout (it names layer and shard) in preference to secondary failures.
            var timeout = calls.Where(c => c.IsFaulted).Select(c => c.Exception!.InnerException).OfType<ExpertShardTimeoutException>().FirstOrDefault();
            if (timeout is not null) throw timeout;
            throw;
        }
        foreach (var p in parts) p.Request.Inputs.ReturnBuffer();
        return Assemble(batch, parts, responses);
    }

    private async Task<ExpertShardResponse> CallAsync(ShardPart part, CancellationToken cancellationToken)
    {
        var request = part.Request;
        Statistics.Record(request.Inputs.Data.Length);
        try
        {
            // WaitAsync bounds the wait even if the grain call ignored the token.
            var response = await _timeout.ExecuteAsync(
                static async (state, token) => await state.transport.ComputeAsync(state.request, token).WaitAsync(token),
                (transport: _transport, request), cancellationToken);
            Statistics.RecordResponse(response.Outputs.Data.Length);
            Statistics.RecordShardCompute(response.ComputeMilliseconds);
            return response;
        }
        catch (TimeoutRejectedException)
        {
            throw new ExpertShardTimeoutException(request.Layer, request.Shard, _shardTimeout);
        }
    }

    /// <summary>Synchronous: the rows of each shard (contiguous runs of the expert-grouped batch), on the wire.</summary>
    private List<ShardPart> Split(int layer, ExpertDispatchBatch batch, DispatchContext context)
    {
        var byShard = new SortedDictionary<int, ShardBuilder>();
        int row = 0;
        for (int g = 0; g < batch.ExpertIds.Length; g++)
        {
            int expert = batch.ExpertIds[g], count = batch.Counts[g];
            if (count == 0) continue;
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

    /// <summary>Synchronous: the shards' outputs copied back into the batch's row order. Owned by the caller.</summary>
    private Tensor Assemble(ExpertDispatchBatch batch, List<ShardPart> parts, ExpertShardResponse[] responses)
    {
        using var scope = NewDisposeScope();
        var output = torch.empty([batch.Rows, batch.Inputs.shape[1]], _computeDType, _device);
        for (int i = 0; i < parts.Count; i++)
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

    private sealed record ShardPart(ExpertShardRequest Request, ImmutableArray<RowRun> Runs);

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

using System.Diagnostics;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cluster.Stepping;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Silos.Tensors;
using TorchSharp;

namespace Llama4Cluster.Silos.Attention;

/// <summary>
/// The hand-off from a cluster stage to the next stage's grain (<see cref="IAttentionStageGrain"/>, key
/// <c>attention/{rank}/{stage}</c>): one Orleans call per forward pass carrying the pass and the hidden states in the wire
/// dtype (fp32 keeps a staged rank exact). Counts calls, payload bytes and the time spent waiting for the answer.
/// </summary>
public sealed class GrainStageLink(IGrainFactory grains, int rank, int nextStage, WireDType wire) : IRankStageLink
{
    private long _handOffs;
    private long _bytes;
    private long _waitTicks;

    /// <summary>The next stage's grain.</summary>
    public IAttentionStageGrain Next { get; } = grains.GetGrain<IAttentionStageGrain>(PlacementKey.ForAttentionStage(rank, nextStage).ToString());

    public long HandOffs => Interlocked.Read(ref _handOffs);

    public long Bytes => Interlocked.Read(ref _bytes);

    public TimeSpan Wait => TimeSpan.FromTicks(Interlocked.Read(ref _waitTicks));

    public async Task<RankStepResult> HandOffAsync(RankStep pass, int passIndex, torch.Tensor hidden, CancellationToken cancellationToken)
    {
        var payload = TensorPayloads.ToPayload(hidden, wire);
        Interlocked.Increment(ref _handOffs);
        Interlocked.Add(ref _bytes, payload.Data.Length);
        long started = Stopwatch.GetTimestamp();
        try
        {
            var response = await Next.PassAsync(new StagePassRequest(StepMessages.ToWire(pass), passIndex, payload), cancellationToken);
            return StepMessages.FromWire(response);
        }
        finally
        {
            Interlocked.Add(ref _waitTicks, Stopwatch.GetElapsedTime(started).Ticks);
        }
    }

    /// <summary>Sent without waiting: a release the next stage misses is dropped there by its lease.</summary>
    public void Release(IReadOnlyList<long> sequenceIds)
    {
        if (sequenceIds.Count == 0) return;
        _ = Next.ReleaseAsync([.. sequenceIds]).ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
    }
}

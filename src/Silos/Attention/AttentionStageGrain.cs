using System.Collections.Immutable;
using System.Diagnostics;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Cluster.Stepping;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Model;
using Llama4Cluster.Silos.Placement;
using Llama4Cluster.Silos.Tensors;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Silos.Attention;

/// <summary>
/// A later pipeline stage of a staged attention rank (key <c>attention/{rank}/{stage}</c>): the same <see cref="RankStage"/>
/// as the rank's <see cref="AttentionGrain"/>, over its own layer range, taking the passes the stage before it hands on.
/// Placed by <see cref="ExpertPlacement"/> on an attention silo of its own where there are enough (stage s of rank r sits
/// s silos after the rank's). Its sequences are a cache: a failed pass drops them, and the rank's re-prefill starts them
/// again (a start replaces what a failed step left here).
/// </summary>
[GrainType(GrainTypeName), KeepAlive, ExpertPlacement]
public sealed partial class AttentionStageGrain(SiloModelContext context, DataPlaneClient dataPlane, DataPlaneServer dataPlaneServer,
    ILogger<AttentionStageGrain> logger) : Grain, IAttentionStageGrain
{
    public const string GrainTypeName = "l4c-attention-stage";

    private RankStage? _stage;
    private long _stepTicks;

    private PlacementKey Key => PlacementKey.TryParse(this.GetPrimaryKeyString(), out var key) && key is { Kind: PlacementKind.AttentionRank, Stage: > 0 }
        ? key
        : throw new InvalidOperationException($"'{this.GetPrimaryKeyString()}' is not a later stage's key; expected attention/RANK/STAGE with STAGE ≥ 1");

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = Key;
        if (!context.Role.HoldsAttention())
            throw new InvalidOperationException($"{key.Describe()} cannot activate on silo {RuntimeIdentity}: its role is {context.Role.ToText()} (Llama4:Role); " +
                "place attention stages on silos with role attention or all");
        _stage = await RankStage.LoadAsync(context, GrainFactory, dataPlane, key.Rank, key.Stage, cancellationToken);
        _stage.Core.SequencesDropped += (ids, error) => LogPassFailed(error, key.Rank, key.Stage, ids.Count);
        var lease = context.Options.SequenceLease;
        this.RegisterGrainTimer(EvictIdle, new GrainTimerCreationOptions(lease / 4, lease / 4) { Interleave = false });
        LogLoaded(key.Rank, key.Stage, _stage.Core.Model.Stage.ToString(), _stage.WeightBytes, RuntimeIdentity);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _stage?.Dispose();
        _stage = null;
        return Task.CompletedTask;
    }

    private Task EvictIdle(CancellationToken cancellationToken)
    {
        _stage?.Core.EvictIdle(context.Options.SequenceLease);
        return Task.CompletedTask;
    }

    public async Task<StepResponse> PassAsync(StagePassRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var core = _stage?.Core ?? throw new InvalidOperationException($"{Key.Describe()} is not loaded");
        var pass = StepMessages.FromWire(request.Pass);
        long started = Stopwatch.GetTimestamp();
        try
        {
            var result = await context.Compute.RunAsync(async () =>
            {
                using var hidden = TensorPayloads.ToTensor(request.Hidden, context.ComputeDType, _stage.Device);
                return await core.PassAsync(pass, request.PassIndex, hidden, cancellationToken);
            }, cancellationToken);
            return StepMessages.ToWire(result) with { Silo = RuntimeIdentity, SiloEndpoint = dataPlaneServer.Endpoint };
        }
        finally
        {
            Interlocked.Add(ref _stepTicks, Stopwatch.GetElapsedTime(started).Ticks);
        }
    }

    public Task ReleaseAsync(ImmutableArray<long> sequenceIds)
    {
        _stage?.Core.Release(sequenceIds.IsDefault ? [] : sequenceIds);
        return Task.CompletedTask;
    }

    public Task<AttentionRankInfo> DescribeAsync()
    {
        var key = Key;
        var s = _stage;
        var stats = s?.Dispatcher.Statistics;
        return Task.FromResult(new AttentionRankInfo(key.Rank, RuntimeIdentity, (s?.Device ?? context.Device).ToString(), s?.Core.SequenceCount ?? 0,
            s?.WeightBytes ?? 0, s?.Core.CacheBytes ?? 0, stats?.Calls ?? 0, stats?.BytesSent ?? 0, stats?.BytesReceived ?? 0,
            TimeSpan.FromTicks(Interlocked.Read(ref _stepTicks)).TotalMilliseconds, stats?.DispatchWait.TotalMilliseconds ?? 0,
            stats?.ShardCompute.TotalMilliseconds ?? 0, dataPlaneServer.Endpoint, stats?.Retries ?? 0, s?.Dispatcher.Replicas.DownNow ?? 0,
            stats?.Hedges ?? 0, context.ShardMap.Replicas, [.. (s?.Dispatcher.Replicas.Down ?? []).Select(k => k.Format())],
            key.Stage, context.Options.Stages, s?.Core.Model.Stage.ToString() ?? "", s?.Next?.HandOffs ?? 0, s?.Next?.Bytes ?? 0,
            s?.Next?.Wait.TotalMilliseconds ?? 0));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Attention rank {Rank} stage {Stage}: loaded {Layers} ({Bytes} bytes read) on silo {Silo}")]
    private partial void LogLoaded(int rank, int stage, string layers, long bytes, string silo);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention rank {Rank} stage {Stage}: a pass failed; dropped the state of its {Sequences} sequences")]
    private partial void LogPassFailed(Exception exception, int rank, int stage, int sequences);
}

using System.Collections.Immutable;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Cluster.Stepping;
using Llama4Cluster.Contracts.Attention;
using Llama4Cluster.Core.Guidance;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Engine;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Experts;
using Llama4Cluster.Silos.Model;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Silos.Attention;

/// <summary>
/// One attention rank in the cluster: a thin Orleans adapter over Kernels' <see cref="AttentionRankCore"/> (the same core
/// the local engine runs), whose model reaches the routed experts through a <see cref="RemoteExpertDispatcher"/> (one call
/// per expert shard with rows per MoE layer). It loads the non-expert weights on activation, maps each step between its
/// wire form and the engine's (<see cref="StepMessages"/>), runs it on the silo's compute threads (the Kernels code keeps
/// every dispose scope inside a synchronous section), and reports counters. Steps longer than the message budget run as
/// several forward passes so no dispatch message approaches Orleans' maximum message size. Placed by
/// <see cref="ExpertPlacement"/>: its integer key is the plan's rank. On a staged rank (<see cref="ClusterModelOptions.Stages"/>)
/// it is stage 0: it holds the embeddings and the first layers, takes the engine steps and hands each pass on to
/// <see cref="AttentionStageGrain"/> stage 1 (<see cref="RankStage"/>).
/// </summary>
[GrainType(GrainTypeName), KeepAlive, ExpertPlacement]
public sealed partial class AttentionGrain : Grain, IAttentionGrain
{
    public const string GrainTypeName = "l4c-attention";

    private readonly SiloModelContext _context;
    private readonly ILogger<AttentionGrain> _logger;
    private readonly DataPlaneClient _dataPlane;
    private readonly DataPlaneServer _dataPlaneServer;
    private readonly PreferredPlacement _preferred;
    private RankStage? _stage;
    private AttentionRankCore? _core;
    private RemoteExpertDispatcher? _dispatcher;
    private long _weightBytes;
    private long _stepTicks;

    public AttentionGrain(SiloModelContext context, DataPlaneClient dataPlane, DataPlaneServer dataPlaneServer, PreferredPlacement preferred,
        ILogger<AttentionGrain> logger)
    {
        _preferred = preferred;
        _context = context;
        _dataPlane = dataPlane;
        _dataPlaneServer = dataPlaneServer;
        _logger = logger;
    }

    private int Rank => (int)this.GetPrimaryKeyLong();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (!_context.Role.HoldsAttention())
            throw new InvalidOperationException($"attention rank {Rank} cannot activate on silo {RuntimeIdentity}: its role is {_context.Role.ToText()} (Llama4:Role); " +
                "place attention ranks on silos with role attention or all (check the placement plan's inventory against the silos' --role)");
        _stage = await RankStage.LoadAsync(_context, GrainFactory, _dataPlane, Rank, 0, cancellationToken);
        _core = _stage.Core;
        _core.SequencesDropped += (ids, error) => LogStepFailed(error, Rank, ids.Count);
        var lease = _context.Options.SequenceLease;
        this.RegisterGrainTimer(EvictIdle, new GrainTimerCreationOptions(lease / 4, lease / 4) { Interleave = false });
        var every = _context.Options.RebalanceInterval;
        this.RegisterGrainTimer(MoveBackIfIdle, new GrainTimerCreationOptions(every, every) { Interleave = false });
        _dispatcher = _stage.Dispatcher;
        _weightBytes = _stage.WeightBytes;
        LogLoaded(Rank, _weightBytes, RuntimeIdentity, _stage.Device.ToString());
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Diagnostics.SiloTelemetry.ForgetRank(Rank);
        _stage?.Dispose();
        _stage = null;
        _core = null;
        return Task.CompletedTask;
    }

    /// <summary>The lease (a grain timer, never interleaved with a step): sequences untouched for the lease are dropped.</summary>
    private Task EvictIdle(CancellationToken cancellationToken)
    {
        if (_core?.EvictIdle(_context.Options.SequenceLease) is { Count: > 0 } evicted) LogEvicted(Rank, evicted.Count, _context.Options.SequenceLease.TotalSeconds);
        return Task.CompletedTask;
    }

    /// <summary>A rank re-activated away from the silo the director now prefers for it (a restarted or new attention silo)
    /// migrates there while it holds no sequence, at no cost (<see cref="GrainMoves.MigrateTo"/>).</summary>
    private Task MoveBackIfIdle(CancellationToken cancellationToken)
    {
        if (_core is not { SequenceCount: 0 }) return Task.CompletedTask;
        if (_preferred.ElsewhereThan(PlacementKey.ForAttentionRank(Rank)) is not { } preferred) return Task.CompletedTask;
        LogMovingBack(Rank, RuntimeIdentity, preferred.ToString());
        this.MigrateTo(preferred);
        return Task.CompletedTask;
    }

    public Task<AttentionRankInfo> DescribeAsync() =>
        Task.FromResult(new AttentionRankInfo(Rank, RuntimeIdentity, (_stage?.Device ?? _context.Device).ToString(), _core?.SequenceCount ?? 0, _weightBytes,
            _core?.CacheBytes ?? 0, _dispatcher?.Statistics.Calls ?? 0,
            _dispatcher?.Statistics.BytesSent ?? 0, _dispatcher?.Statistics.BytesReceived ?? 0,
            TimeSpan.FromTicks(Interlocked.Read(ref _stepTicks)).TotalMilliseconds,
            _dispatcher?.Statistics.DispatchWait.TotalMilliseconds ?? 0, _dispatcher?.Statistics.ShardCompute.TotalMilliseconds ?? 0,
            _dataPlaneServer.Endpoint, _dispatcher?.Statistics.Retries ?? 0, _dispatcher?.Replicas.DownNow ?? 0,
            _dispatcher?.Statistics.Hedges ?? 0, _context.ShardMap.Replicas,
            [.. (_dispatcher?.Replicas.Down ?? []).Select(k => k.Format())], 0, _context.Options.Stages, _core?.Model.Stage.ToString() ?? "",
            _stage?.Next?.HandOffs ?? 0, _stage?.Next?.Bytes ?? 0, _stage?.Next?.Wait.TotalMilliseconds ?? 0));

    public Task ReleaseAsync(ImmutableArray<long> sequenceIds)
    {
        _core?.Release(sequenceIds.IsDefault ? [] : sequenceIds);
        return Task.CompletedTask;
    }

    public async Task<StepResponse> StepAsync(StepRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var core = _core ?? throw new InvalidOperationException($"attention rank {Rank} is not loaded");
        var step = StepMessages.FromWire(request);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var result = await _context.Compute.RunAsync(() => core.StepAsync(step, cancellationToken), cancellationToken);
            Diagnostics.SiloTelemetry.ReportKv(Rank, core.CacheBytes, core.SequenceCount);
            return StepMessages.ToWire(result) with { Silo = RuntimeIdentity, SiloEndpoint = _dataPlaneServer.Endpoint };
        }
        finally
        {
            Interlocked.Add(ref _stepTicks, System.Diagnostics.Stopwatch.GetElapsedTime(started).Ticks);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Attention rank {Rank}: loaded non-expert weights ({Bytes} bytes read) on silo {Silo}, device {Device}")]
    private partial void LogLoaded(int rank, long bytes, string silo, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Attention rank {Rank}: idle on silo {Silo}; moving to {Preferred}, where the director now places it")]
    private partial void LogMovingBack(int rank, string silo, string preferred);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention rank {Rank}: evicted {Count} sequences no step touched for {Seconds} s (their gateway is gone, or they moved)")]
    private partial void LogEvicted(int rank, int count, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention rank {Rank}: a step failed; dropped the state of its {Sequences} sequences")]
    private partial void LogStepFailed(Exception exception, int rank, int sequences);
}

using System.Collections.Immutable;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Model;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using TorchSharp;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// The routed experts of one shard of one MoE layer, or with <c>--shared-experts shards</c> (shard index = the layer's routed
/// shard count) the layer's shared expert (<see cref="SharedExpertShard"/>). On activation it reads only its experts' bytes from
/// the checkpoint (the Kernels subset loader) onto the silo's device, and keeps them for its lifetime
/// (<see cref="KeepAliveAttribute"/>; <see cref="ImmovableAttribute"/>: moving means reloading gigabytes).
/// Loading and the grouped SwiGLU (<see cref="ExpertShardRuntime"/>, shared with the socket data plane) run on the
/// silo's compute threads, never on Orleans' scheduler. Placed by <see cref="ExpertPlacement"/>: its key
/// <c>layer/shard[/replica]</c> is the plan's replica of that shard (<see cref="PlacementKey"/>); replicas of one shard go to
/// distinct silos.
/// </summary>
[GrainType(GrainTypeName), KeepAlive, Immovable, ExpertPlacement]
public sealed partial class ExpertShardGrain : Grain, IExpertShardGrain
{
    public const string GrainTypeName = "l4c-expert-shard";

    private readonly SiloModelContext _context;
    private readonly ExpertShardRegistry _registry;
    private readonly DataPlaneServer _dataPlane;
    private readonly IEnumerable<IExpertShardObserver> _observers;
    private readonly ILogger<ExpertShardGrain> _logger;
    private readonly PreferredPlacement _preferred;
    private ExpertShardRuntime? _runtime;
    private ExpertShardKey _key;

    public ExpertShardGrain(SiloModelContext context, ExpertShardRegistry registry, DataPlaneServer dataPlane,
        IEnumerable<IExpertShardObserver> observers, PreferredPlacement preferred, ILogger<ExpertShardGrain> logger)
    {
        _preferred = preferred;
        _context = context;
        _registry = registry;
        _dataPlane = dataPlane;
        _observers = observers;
        _logger = logger;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = _key = ExpertShardKey.Parse(this.GetPrimaryKeyString());
        if (!_context.Role.HoldsExperts())
            throw new InvalidOperationException($"expert shard {key} cannot activate on silo {RuntimeIdentity}: its role is {_context.Role.ToText()} (Llama4:Role); " +
                "place expert shards on silos with role expert or all (check the placement plan's inventory against the silos' --role)");
        var config = _context.Config;
        if (key.Layer < 0 || key.Layer >= config.NumHiddenLayers || !config.IsMoeLayer(key.Layer))
            throw new InvalidOperationException($"expert shard {key}: layer {key.Layer} is not a MoE layer of this model");
        int shards = _context.ShardMap.ShardCount(key.Layer);
        string silo = RuntimeIdentity;
        if (_context.SharedExpertShards && key.Shard == shards)
        {
            var (shared, sharedInfo) = await _context.Compute.RunAsync(() => SharedExpertShard.Load(_context, key, silo), cancellationToken);
            _runtime = new ExpertShardRuntime(shared, sharedInfo, _context, _observers);
            LogLoadedShared(key.Layer, key.Shard, sharedInfo.BytesRead, silo, sharedInfo.Device);
        }
        else
        {
            if (key.Shard < 0 || key.Shard >= shards)
                throw new InvalidOperationException($"expert shard {key}: the layer has {shards} shards (0..{shards - 1})" +
                    (_context.SharedExpertShards ? $" and the shared-expert shard {shards}" : ""));
            var experts = _context.ShardMap.ExpertsOf(key.Layer, key.Shard).ToArray();
            var (grouped, info) = await _context.Compute.RunAsync(() => Load(key, experts, silo), cancellationToken);
            _runtime = new ExpertShardRuntime(grouped, info, _context, _observers);
            LogLoaded(key.Layer, key.Shard, experts.Length, info.BytesRead, info.Silo, info.Device);
        }
        _registry.Add(key, _runtime);
        if (_context.ShardMap.Replicas > 1)
        {
            var every = _context.Options.RebalanceInterval;
            this.RegisterGrainTimer(MoveBackIfFree, new GrainTimerCreationOptions(every, every) { Interleave = false });
        }
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        if (_runtime is { } runtime)
        {
            _registry.Remove(_key, runtime);
            runtime.Dispose();
        }
        _runtime = null;
        return Task.CompletedTask;
    }

    /// <summary>
    /// A replica re-activated beside a sibling replica (its own silo had died) moves to the silo the director prefers now —
    /// a restarted or new expert silo — when that is another silo and the sibling stays live here: it migrates there
    /// (<see cref="GrainMoves.MigrateTo"/>); a dispatcher's request to it meanwhile fails over to the sibling. Never leaves a
    /// shard without a live replica.
    /// </summary>
    private Task MoveBackIfFree(CancellationToken cancellationToken)
    {
        if (_preferred.ElsewhereThan(PlacementKey.ForExpertShard(_key.Layer, _key.Shard, _key.Replica)) is not { } preferred)
            return Task.CompletedTask;
        bool siblingHere = Enumerable.Range(0, _context.ShardMap.Replicas).Any(r => r != _key.Replica && _registry.TryGet(_key with { Replica = r }, out _));
        if (!siblingHere) return Task.CompletedTask;
        LogMovingBack(_key.ToString(), RuntimeIdentity, preferred.ToString());
        this.MigrateTo(preferred);
        return Task.CompletedTask;
    }

    public Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken = default) =>
        (_runtime ?? throw new InvalidOperationException("expert shard is not loaded")).ComputeAsync(request, cancellationToken);

    public Task<DataEndpoint> GetDataEndpointAsync() => Task.FromResult(_dataPlane.Endpoint);

    public Task<ExpertShardInfo> DescribeAsync() => Task.FromResult(_runtime!.Info);

    private (GroupedExperts, ExpertShardInfo) Load(ExpertShardKey key, int[] experts, string silo)
    {
        using var reader = CheckpointReader.Open(_context.Options.ModelDirectory);
        long before = reader.BytesRead;
        var device = _context.DeviceFor(PlacementKey.ForExpertShard(key.Layer, key.Shard, key.Replica));
        var weights = reader.LoadExperts(key.Layer, experts, _context.ComputeDType, device);
        long read = reader.BytesRead - before;
        // GroupedExperts takes ownership of the two tensors; ExpertWeights only wrapped them.
        var grouped = new GroupedExperts(experts, weights.GateUp, weights.Down, _context.KernelsFor(device));
        var info = new ExpertShardInfo(key.Layer, key.Shard, [.. experts], read, reader.ExpertBytesOnDisk(key.Layer, experts),
            grouped.WeightBytes, silo, device.ToString());
        return (grouped, info);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Expert shard {Key}: a sibling replica is live on this silo {Silo}; moving to {Preferred}, where the director now places it")]
    private partial void LogMovingBack(string key, string silo, string preferred);

    [LoggerMessage(Level = LogLevel.Information, Message = "Expert shard layer {Layer} shard {Shard}: loaded the layer's shared expert ({Bytes} bytes read) on silo {Silo}, device {Device}")]
    private partial void LogLoadedShared(int layer, int shard, long bytes, string silo, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Expert shard layer {Layer} shard {Shard}: loaded {Experts} experts ({Bytes} bytes read) on silo {Silo}, device {Device}")]
    private partial void LogLoaded(int layer, int shard, int experts, long bytes, string silo, string device);
}

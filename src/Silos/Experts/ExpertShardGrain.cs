using System.Collections.Immutable;
using System.Diagnostics;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Kernels.Checkpoints;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Silos.Hosting;
using Llama4Cluster.Silos.Tensors;
using Microsoft.Extensions.Logging;
using Orleans.Placement;
using TorchSharp;
using static TorchSharp.torch;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// The routed experts of one shard of one MoE layer. On activation it reads only its experts' bytes from
/// the checkpoint (the Kernels subset loader) onto the silo's device, and keeps them for its lifetime
/// (<see cref="KeepAliveAttribute"/>; <see cref="ImmovableAttribute"/>: moving means reloading gigabytes).
/// Loading and the grouped SwiGLU run on the silo's compute threads, never on Orleans' scheduler.
/// </summary>
[GrainType(GrainTypeName), KeepAlive, Immovable]
public sealed partial class ExpertShardGrain : Grain, IExpertShardGrain
{
    public const string GrainTypeName = "l4c-expert-shard";

    private readonly SiloModelContext _context;
    private readonly ILogger<ExpertShardGrain> _logger;
    private GroupedExperts? _experts;
    private ExpertShardInfo? _info;

    public ExpertShardGrain(SiloModelContext context, ILogger<ExpertShardGrain> logger)
    {
        _context = context;
        _logger = logger;
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        var key = ExpertShardKey.Parse(this.GetPrimaryKeyString());
        var config = _context.Config;
        if (key.Layer < 0 || key.Layer >= config.NumHiddenLayers || !config.IsMoeLayer(key.Layer))
            throw new InvalidOperationException($"expert shard {key}: layer {key.Layer} is not a MoE layer of this model");
        int shards = _context.ShardMap.ShardCount(key.Layer);
        if (key.Shard < 0 || key.Shard >= shards)
            throw new InvalidOperationException($"expert shard {key}: the layer has {shards} shards (0..{shards - 1})");
        var experts = _context.ShardMap.ExpertsOf(key.Layer, key.Shard).ToArray();
        string silo = RuntimeIdentity;
        var (grouped, info) = await _context.Compute.RunAsync(() => Load(key, experts, silo), cancellationToken);
        _experts = grouped;
        _info = info;
        LogLoaded(key.Layer, key.Shard, experts.Length, info.BytesRead, info.Silo, info.Device);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _experts?.Dispose();
        _experts = null;
        return Task.CompletedTask;
    }

    public async Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var experts = _experts ?? throw new InvalidOperationException("expert shard is not loaded");
        var info = _info!;
        if (request.Layer != info.Layer || request.Shard != info.Shard)
            throw new ArgumentException($"request for layer {request.Layer} shard {request.Shard} reached shard '{info.Layer}/{info.Shard}'");
        return await _context.Compute.RunAsync(() => Compute(experts, request), cancellationToken);
    }

    public Task<ExpertShardInfo> DescribeAsync() => Task.FromResult(_info!);

    private (GroupedExperts, ExpertShardInfo) Load(ExpertShardKey key, int[] experts, string silo)
    {
        using var reader = CheckpointReader.Open(_context.Options.ModelDirectory);
        long before = reader.BytesRead;
        var weights = reader.LoadExperts(key.Layer, experts, _context.ComputeDType, _context.Device);
        long read = reader.BytesRead - before;
        // GroupedExperts takes ownership of the two tensors; ExpertWeights only wrapped them.
        var grouped = new GroupedExperts(experts, weights.GateUp, weights.Down);
        var info = new ExpertShardInfo(key.Layer, key.Shard, [.. experts], read, reader.ExpertBytesOnDisk(key.Layer, experts),
            grouped.WeightBytes, silo, _context.Device.ToString());
        return (grouped, info);
    }

    /// <summary>Synchronous: payload → tensor → grouped SwiGLU → payload, in one dispose scope on a compute thread.</summary>
    private ExpertShardResponse Compute(GroupedExperts experts, ExpertShardRequest request)
    {
        var watch = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        var inputs = TensorPayloads.ToTensor(request.Inputs, _context.ComputeDType, _context.Device);
        request.Inputs.ReturnBuffer();
        if (inputs.dim() != 2 || inputs.shape[1] != _context.Config.HiddenSize)
            throw new ArgumentException($"inputs {request.Inputs} are not [P, {_context.Config.HiddenSize}]");
        var outputs = experts.Compute(inputs, request.ExpertIds, request.Counts);
        var payload = TensorPayloads.ToPayload(outputs, request.Inputs.DType);
        return new ExpertShardResponse(payload, watch.Elapsed.TotalMilliseconds);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Expert shard layer {Layer} shard {Shard}: loaded {Experts} experts ({Bytes} bytes read) on silo {Silo}, device {Device}")]
    private partial void LogLoaded(int layer, int shard, int experts, long bytes, string silo, string device);
}

using System.Diagnostics;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Model.Moe;
using Llama4Cluster.Kernels.Runtime;
using TorchSharp;
using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Diagnostics;
using Llama4Cluster.Silos.Model;
using Llama4Cluster.Silos.Tensors;
using static TorchSharp.torch;

namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// A loaded expert shard as both transports reach it: the Orleans grain call and the TCP data plane. Computes run
/// one at a time per shard (as in a non-reentrant grain) on the silo's compute threads; disposal waits for a running
/// compute, so the data plane never touches freed weights. It holds either routed experts (grouped SwiGLU over rows
/// grouped by expert) or a layer's shared expert (<see cref="ExpertShardRequest.SharedExpert"/>: the same SwiGLU the rank
/// would run, on every token's row).
/// </summary>
public sealed class ExpertShardRuntime : IDataPlaneShard, IDisposable
{
    private readonly GroupedExperts? _experts;
    private readonly SwiGluMlp? _shared;
    private readonly SiloModelContext _context;
    private readonly torch.Device _device;
    private readonly IExpertShardObserver[] _observers;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private bool _disposed;

    public ExpertShardRuntime(GroupedExperts experts, ExpertShardInfo info, SiloModelContext context, IEnumerable<IExpertShardObserver> observers)
        : this(experts, null, info, context, observers)
    {
    }

    /// <summary>A shared-expert shard: <paramref name="shared"/> on every row it is sent.</summary>
    public ExpertShardRuntime(SwiGluMlp shared, ExpertShardInfo info, SiloModelContext context, IEnumerable<IExpertShardObserver> observers)
        : this(null, shared, info, context, observers)
    {
    }

    private ExpertShardRuntime(GroupedExperts? experts, SwiGluMlp? shared, ExpertShardInfo info, SiloModelContext context, IEnumerable<IExpertShardObserver> observers)
    {
        _experts = experts;
        _shared = shared;
        Info = info;
        _context = context;
        _device = DeviceSpec.Parse(info.Device); // where Load put the weights
        _observers = observers.ToArray();
    }

    public ExpertShardInfo Info { get; }

    public async Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Layer != Info.Layer || request.Shard != Info.Shard)
            throw new ArgumentException($"request for layer {request.Layer} shard {request.Shard} reached shard '{Info.Layer}/{Info.Shard}'");
        using var activity = SiloTelemetry.Source.StartActivity("expert.compute");
        activity?.SetTag("llama4.layer", request.Layer);
        activity?.SetTag("llama4.shard", request.Shard);
        activity?.SetTag("llama4.replica", request.Replica);
        activity?.SetTag("llama4.rows", request.Inputs.Shape.Count > 0 ? request.Inputs.Shape[0] : 0);
        foreach (var o in _observers) await o.OnRequestAsync(request, cancellationToken);
        long queued = Stopwatch.GetTimestamp();
        await _gate.WaitAsync(cancellationToken);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            // The reply is written by the continuation: on the compute thread, without waking a pool thread first.
            return await _context.Compute.RunAndContinueHereAsync(() => Compute(request, queued), cancellationToken);
        }
        catch (Exception e)
        {
            activity?.SetStatus(ActivityStatusCode.Error, e.Message);
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Synchronous: payload → tensor → grouped SwiGLU → payload, in one dispose scope on a compute thread.</summary>
    private ExpertShardResponse Compute(ExpertShardRequest request, long queued)
    {
        var watch = Stopwatch.StartNew();
        var tags = new TagList { { "layer", Info.Layer }, { "shard", Info.Shard } };
        SiloTelemetry.ExpertQueue.Record(Stopwatch.GetElapsedTime(queued).TotalSeconds, tags);
        using var scope = NewDisposeScope();
        var inputs = TensorPayloads.ToTensor(request.Inputs, _context.ComputeDType, _device);
        request.Inputs.ReturnBuffer();
        if (inputs.dim() != 2 || inputs.shape[1] != _context.Config.HiddenSize)
            throw new ArgumentException($"inputs {request.Inputs} are not [P, {_context.Config.HiddenSize}]");
        var outputs = _shared is not null ? Shared(inputs, request) : _experts!.Compute(inputs, request.ExpertIds, request.Counts);
        var payload = TensorPayloads.ToPayload(outputs, request.Inputs.DType);
        SiloTelemetry.ExpertCompute.Record(watch.Elapsed.TotalSeconds, tags);
        return new ExpertShardResponse(payload, watch.Elapsed.TotalMilliseconds);
    }

    /// <summary>The shared expert on every row (weight 1: the rows are the layer's unscaled inputs).</summary>
    private torch.Tensor Shared(torch.Tensor inputs, ExpertShardRequest request)
    {
        if (request.ExpertIds is not [ExpertShardRequest.SharedExpert] || request.Counts is not [var rows] || rows != inputs.shape[0])
            throw new ArgumentException($"shard '{Info.Layer}/{Info.Shard}' holds the layer's shared expert: a request names expert " +
                $"{ExpertShardRequest.SharedExpert} once with every row; got experts [{string.Join(",", request.ExpertIds)}] counts [{string.Join(",", request.Counts)}]");
        return _shared!.Forward(inputs);
    }

    public void Dispose()
    {
        _gate.Wait();
        try
        {
            if (_disposed) return;
            _disposed = true;
            _experts?.Dispose();
            _shared?.Dispose();
        }
        finally
        {
            _gate.Release();
        }
    }
}

using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Kernels.Model;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Silos.Compute;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace Llama4Cluster.Silos.Model;

/// <summary>
/// A silo's resolved model settings, shared by its grains: the text config (read once from config.json),
/// device and dtypes as torch values, the expert-to-shard map and the compute threads.
/// </summary>
public sealed class SiloModelContext : IDisposable
{
    private readonly Lazy<TensorComputeScheduler> _compute;
    private readonly Lazy<IExpertShardMap> _shardMap;
    private readonly IPlacementPlanProvider? _plans;

    /// <summary>The <c>--device</c> value that puts each grain on the device its placement plan names.</summary>
    public const string PlanDevice = "plan";

    public SiloModelContext(IOptions<ClusterModelOptions> options, IPlacementPlanProvider? plans = null)
    {
        Options = options.Value;
        Config = Llama4ConfigReader.Load(Options.ModelDirectory);
        DevicesFromPlan = string.Equals(Options.Device, PlanDevice, StringComparison.OrdinalIgnoreCase);
        _plans = plans;
        Device = DevicesFromPlan ? torch.CPU : DeviceSpec.Parse(Options.Device);
        ComputeDType = Kernels.Runtime.ComputeDType.Resolve(Options.DType, Options.ModelDirectory); // auto: the checkpoint's dtype
        // An unset wire dtype follows the compute dtype: fp32 compute stays exact across the wire.
        WireDType = string.IsNullOrWhiteSpace(Options.WireDType)
            ? ComputeDType == torch.ScalarType.Float32 ? Contracts.Tensors.WireDType.Float32 : Contracts.Tensors.WireDType.BFloat16
            : WireDTypes.Parse(Options.WireDType);
        Role = SiloRoles.Parse(Options.Role);
        // Read on first use (the first grain activation), so a plan provider may receive its plan after the silo starts.
        _shardMap = new Lazy<IExpertShardMap>(() => plans?.Current is { } plan
            ? new PlanExpertShardMap(plan, Config.NumLocalExperts)
            : new EvenExpertShardMap(Config.NumLocalExperts, Options.ShardsPerLayer, Options.ExpertReplicas));
        if (Options.TorchThreads is { } threads)
        {
            torch.set_num_threads(threads);
            Kernels.Cpu.CpuWorkerPool.ConfigureShared(threads);
        }
        _compute = new Lazy<TensorComputeScheduler>(() => new TensorComputeScheduler(Options.ComputeThreads));
    }

    public ClusterModelOptions Options { get; }

    public Llama4TextConfig Config { get; }

    /// <summary>The silo's device (<c>--device</c>) for every grain; with <c>--device plan</c> grains use <see cref="DeviceFor"/>.</summary>
    public torch.Device Device { get; }

    /// <summary><c>--device plan</c>: each grain computes on the device the placement plan names for it (a host silo of a
    /// plan drives all of its GPUs).</summary>
    public bool DevicesFromPlan { get; }

    /// <summary>Where the grain <paramref name="key"/> keeps its weights and computes: the plan's device for it with
    /// <c>--device plan</c>, else the silo's <see cref="Device"/>.</summary>
    public torch.Device DeviceFor(PlacementKey key)
    {
        if (!DevicesFromPlan) return Device;
        var plan = _plans?.Current ?? throw new InvalidOperationException("--device plan needs a placement plan (--plan FILE)");
        string device = plan.DeviceFor(key)
            ?? throw new InvalidOperationException($"--device plan: the placement plan names no device for {key}");
        return DeviceSpec.Parse(device);
    }

    public torch.ScalarType ComputeDType { get; }

    /// <summary>The kernels a grain on <paramref name="device"/> computes with (dtype, device and <see cref="ClusterModelOptions.BatchInvariant"/>).</summary>
    public KernelPolicy KernelsFor(torch.Device device) =>
        KernelPolicy.For(new ModelOptions { ComputeDType = ComputeDType, Device = device, BatchInvariant = Options.BatchInvariant });

    public WireDType WireDType { get; }

    /// <summary>What this silo hosts (<see cref="ClusterModelOptions.Role"/>); grains refuse to activate on a silo whose role excludes them.</summary>
    public SiloRole Role { get; }

    /// <summary>
    /// Experts of each shard: the placement plan's (<see cref="PlanExpertShardMap"/>) when the silo has one, else the even
    /// split over <see cref="ClusterModelOptions.ShardsPerLayer"/> (<see cref="EvenExpertShardMap"/>).
    /// </summary>
    public IExpertShardMap ShardMap => _shardMap.Value;

    public TensorComputeScheduler Compute => _compute.Value;

    /// <summary>Whether each MoE layer's shared expert runs as one more expert shard (<see cref="ClusterModelOptions.SharedExperts"/>):
    /// shard index <see cref="IExpertShardMap.ShardCount"/> of the layer, after the routed shards.</summary>
    public bool SharedExpertShards => Options.SharedExperts == SharedExpertPlacement.Shards;

    /// <summary>
    /// Most tokens one attention step may carry so that a dispatch payload (T·k rows of D values on the wire)
    /// and an all-rows logits payload (T·V fp32) stay within <see cref="ClusterModelOptions.PayloadBudgetBytes"/>.
    /// </summary>
    public int MaxStepTokens(bool withLogits)
    {
        long budget = Options.PayloadBudgetBytes;
        long perToken = (long)Config.NumExpertsPerToken * Config.HiddenSize * WireDTypes.ElementSize(WireDType);
        if (withLogits) perToken = Math.Max(perToken, (long)Config.VocabSize * sizeof(float));
        return (int)Math.Clamp(budget / Math.Max(1, perToken), 1, int.MaxValue);
    }

    public void Dispose()
    {
        if (_compute.IsValueCreated) _compute.Value.Dispose();
    }
}

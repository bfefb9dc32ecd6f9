using Llama4Cluster.Contracts.Tensors;
using Llama4Cluster.Kernels.Config;
using Llama4Cluster.Kernels.Runtime;
using Llama4Cluster.Silos.Compute;
using Llama4Cluster.Silos.Experts;
using Microsoft.Extensions.Options;
using TorchSharp;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// A silo's resolved model settings, shared by its grains: the text config (read once from config.json),
/// device and dtypes as torch values, the expert-to-shard map and the compute threads.
/// </summary>
public sealed class SiloModelContext : IDisposable
{
    private readonly Lazy<TensorComputeScheduler> _compute;

    public SiloModelContext(IOptions<ClusterModelOptions> options)
    {
        Options = options.Value;
        Config = Llama4ConfigReader.Load(Options.ModelDirectory);
        Device = DeviceSpec.Parse(Options.Device);
        ComputeDType = Kernels.Runtime.ComputeDType.Parse(Options.DType);
        WireDType = WireDTypes.Parse(Options.WireDType);
        ShardMap = new EvenExpertShardMap(Config.NumLocalExperts, Options.ShardsPerLayer);
        if (Options.TorchThreads is { } threads)
        {
            torch.set_num_threads(threads);
            Kernels.Cpu.CpuWorkerPool.ConfigureShared(threads);
        }
        _compute = new Lazy<TensorComputeScheduler>(() => new TensorComputeScheduler(Options.ComputeThreads));
    }

    public ClusterModelOptions Options { get; }

    public Llama4TextConfig Config { get; }

    public torch.Device Device { get; }

    public torch.ScalarType ComputeDType { get; }

    public WireDType WireDType { get; }

    public IExpertShardMap ShardMap { get; }

    public TensorComputeScheduler Compute => _compute.Value;

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

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>The CPU kernel tests share a static instruction-set switch: run them one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class CpuKernelCollection
{
    public const string Name = "CPU kernels";
}

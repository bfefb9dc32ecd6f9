using Llama4Cluster.Kernels.Runtime;
using TorchSharp;

namespace Llama4Cluster.Kernels.Tests.Native;

/// <summary>
/// The native backend loads on this machine (the GLIBCXX_3.4.32 weak-version fix in
/// build/TorchSharpNative.targets is applied by the build) and computes.
/// </summary>
public sealed class TorchSharpLoadTests
{
    [Fact]
    public void NativeBackendLoadsAndComputes()
    {
        using var a = ScalarOps.Arange(1, 5, torch.float32, torch.CPU);
        using var s = a.sum();
        Assert.Equal(10f, s.item<float>());
    }
}

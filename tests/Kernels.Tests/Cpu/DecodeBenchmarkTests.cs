using Llama4Cluster.Kernels.Cpu;

namespace Llama4Cluster.Kernels.Tests.Cpu;

/// <summary>The benchmark and bandwidth probes run and report sane numbers (no timing asserted).</summary>
[Collection(CpuKernelCollection.Name)]
public sealed class DecodeBenchmarkTests
{
    [Fact]
    public void TinyBenchmarkReportsEveryCase()
    {
        var options = new DecodeBenchmarkOptions(Hidden: 128, Intermediate: 64, Experts: 3, Threads: 2, Iterations: 3, BandwidthBytes: 8L << 20);
        var result = DecodeBenchmark.Run(options);
        Assert.Equal(options, result.Options);
        Assert.Equal(4, result.Cases.Count);
        Assert.True(result.BandwidthGBps > 0 && result.BandwidthBestGBps >= result.BandwidthGBps && result.TorchSumGBps > 0);
        foreach (var c in result.Cases)
        {
            Assert.True(c.KernelGBps > 0 && c.TorchGBps > 0, c.ToString());
            Assert.True(double.IsFinite(c.KernelToBandwidth) && double.IsFinite(c.KernelToTorch), c.ToString());
        }

        Assert.Equal(3L * 128 * 64 * 2, result.Cases[0].WeightBytesPerCall);
        Assert.Equal(3 * (3L * 128 * 64 * 2), result.Cases[1].WeightBytesPerCall);
    }

    [Fact]
    public void BandwidthProbesReturnPositiveRates()
    {
        using var pool = new CpuWorkerPool(2);
        Assert.True(MemoryBandwidth.Measure(4L << 20, 2, pool) > 0);
        Assert.True(MemoryBandwidth.MeasureTorchSum(4L << 20, 2) > 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => MemoryBandwidth.Measure(1024));
    }
}

using Llama4Cluster.Silos.Diagnostics;
using Llama4Cluster.Silos.Tests.Cluster;
using Xunit.Abstractions;

namespace Llama4Cluster.Silos.Tests.Diagnostics;

/// <summary>The data-plane benchmark runs and reports sane numbers (a smoke test; the bar is a benchmark, not a test).</summary>
[Collection(TinyMaverickCluster.Name)]
public sealed class DataPlaneBenchmarkTests(TinyMaverickClusterFixture fixture, ITestOutputHelper output)
{
    [Fact]
    public async Task OrleansAndTcpRoundTripsAreMeasuredForActivationSizes()
    {
        var samples = await DataPlaneBenchmark.RunAsync(fixture.Cluster.Client, [10 << 10, 320 << 10], iterations: 20);
        Assert.Equal(2, samples.Count);
        foreach (var s in samples)
        {
            output.WriteLine($"{s.Bytes,8} B: Orleans {s.OrleansMicroseconds,8:F0} us ({s.OrleansBytesPerSecond / 1e6,7:F0} MB/s), " +
                $"TCP {s.TcpMicroseconds,8:F0} us ({s.TcpBytesPerSecond / 1e6,7:F0} MB/s), ratio {s.Ratio:F2}");
            Assert.True(s.OrleansMicroseconds > 0 && s.TcpMicroseconds > 0);
            Assert.True(double.IsFinite(s.Ratio));
        }
    }
}

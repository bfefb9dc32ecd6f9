using Llama4Cluster.Gateway.Hosting;

namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>The gateway's <c>--dtype</c>: float32 unless asked, <c>auto</c> resolved against the checkpoint before the silo starts.</summary>
public sealed class CoHostedSiloDTypeTests : IDisposable
{
    private readonly string _cache = Path.Combine(Path.GetTempPath(), "l4c-dt-" + Guid.NewGuid().ToString("N")[..12]);

    public void Dispose()
    {
        if (Directory.Exists(_cache)) Directory.Delete(_cache, recursive: true);
    }

    [Theory]
    [InlineData(null, "float32")]
    [InlineData("auto", "bfloat16")] // the demo checkpoint is written in bf16
    [InlineData("fp32", "float32")]
    [InlineData("bf16", "bfloat16")]
    [InlineData("float32", "float32")]
    public void TheCoHostedSiloComputesInTheResolvedDType(string? given, string expected)
    {
        string directory = TinyModelCache.Ensure(_cache, TextWriter.Null);
        var (dtype, _) = CoHostedSilo.Describe(new GatewayOptions { DType = given }, directory);
        Assert.Equal(expected, dtype);
    }
}

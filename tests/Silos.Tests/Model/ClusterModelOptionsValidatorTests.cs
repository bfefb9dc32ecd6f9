using Llama4Cluster.Silos.Model;

namespace Llama4Cluster.Silos.Tests.Model;

public sealed class ClusterModelOptionsValidatorTests
{
    [Fact]
    public void EachBadSettingIsNamedWithHowToFixIt()
    {
        var options = new ClusterModelOptions
        {
            ModelDirectory = "/nonexistent/l4c", DType = "int8", WireDType = "fp64", Role = "gateway",
            ShardsPerLayer = 0, AttentionRanks = 0, ShardTimeout = TimeSpan.Zero, MaxMessageBytes = 1000, MessageBudgetFraction = 2,
            ComputeThreads = 0, TorchThreads = 0, BatchInvariant = true, Device = "cuda:0",
        };
        var result = new ClusterModelOptionsValidator().Validate(null, options);
        Assert.True(result.Failed);
        var failures = result.Failures!.ToArray();
        foreach (var key in new[] { "ModelDirectory", "DType", "WireDType", "Role", "ShardsPerLayer", "AttentionRanks", "ShardTimeout",
                     "MaxMessageBytes", "MessageBudgetFraction", "ComputeThreads", "TorchThreads", "BatchInvariant" })
        {
            Assert.Contains(failures, f => f.Contains("Llama4:" + key, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void DefaultsWithAModelDirectoryAreValid()
    {
        var options = new ClusterModelOptions { ModelDirectory = Path.GetTempPath() };
        Assert.True(new ClusterModelOptionsValidator().Validate(null, options).Succeeded);
    }
}

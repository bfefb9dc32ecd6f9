using System.Reflection;
using Llama4Cluster.Cluster.Tests.Placement;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Cluster.Engine;

namespace Llama4Cluster.Cluster.Tests.Engine;

public sealed class ClusterEnginePlanTests
{
    [Fact]
    public void ClusterEngineTakesShardsAndRanksFromThePlan()
    {
        var plan = TestPlans.Tiny();
        var engine = new ClusterEngine(NoGrains(), Llama4Presets.TinyScout, plan);
        Assert.Equal(plan.ShardsPerLayer, engine.ShardsPerLayer);
        Assert.Equal(2, engine.ShardsPerLayer);
        Assert.Equal(plan.AttentionRanks.Length, engine.AttentionRanks);

        var e = Assert.Throws<ArgumentException>(() => new ClusterEngine(NoGrains(), Llama4Presets.TinyMaverick, plan));
        Assert.Contains("experts", e.Message, StringComparison.Ordinal);
    }

    private static IGrainFactory NoGrains() => DispatchProxy.Create<IGrainFactory, NoGrainFactory>();

    public class NoGrainFactory : DispatchProxy
    {
        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args) =>
            throw new NotSupportedException("no grains in this test");
    }
}

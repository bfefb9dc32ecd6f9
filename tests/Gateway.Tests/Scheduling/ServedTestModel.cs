using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Core.Config;
using Llama4Cluster.Core.Tests.Scheduling;
using Llama4Cluster.Gateway.Hosting;

namespace Llama4Cluster.Gateway.Tests.Scheduling;

/// <summary>The scheduler tests' model (<see cref="TestModel"/>) as the gateway serves it; no tokenizer or weights are read.</summary>
internal static class ServedTestModel
{
    public static ServedModel Served { get; } = new("tiny-scout", Path.GetTempPath(), Llama4Presets.TinyScout, null!,
        TestModel.Limits.MaxModelLength, TestModel.Limits.EosTokenIds, Created: 0);
}

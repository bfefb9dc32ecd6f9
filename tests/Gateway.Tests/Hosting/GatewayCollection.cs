namespace Llama4Cluster.Gateway.Tests.Hosting;

/// <summary>The test classes that share one in-process gateway (<see cref="GatewayFixture"/>); they run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "In-process gateway";
}

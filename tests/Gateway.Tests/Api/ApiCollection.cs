namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>The API tests share one server and run one after another (so /metrics deltas are exact).</summary>
[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiServerFixture>
{
    public const string Name = "OpenAI API server";
}

namespace Llama4Cluster.Gateway.Tests.Api;

/// <summary>The tool-calling tests share one <see cref="ToolApiServerFixture"/> server.</summary>
[CollectionDefinition(Name)]
public sealed class ToolApiCollection : ICollectionFixture<ToolApiServerFixture>
{
    public const string Name = "OpenAI API server with tools";
}

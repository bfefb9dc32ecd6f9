namespace Llama4Cluster.Contracts.Experts;

/// <summary>Where a silo's tensor data plane listens (host and TCP port).</summary>
[GenerateSerializer, Immutable, Alias("l4c.DataEndpoint")]
public sealed record DataEndpoint([property: Id(0)] string Host, [property: Id(1)] int Port)
{
    public override string ToString() => $"{Host}:{Port}";
}

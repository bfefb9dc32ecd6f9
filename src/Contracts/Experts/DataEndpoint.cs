namespace Llama4Cluster.Contracts.Experts;

/// <summary>Where a silo's tensor data plane is reached: the silo's advertised address and the TCP port, and which silo
/// that is (Orleans' silo address, for messages; null from older builds and tests).</summary>
[GenerateSerializer, Immutable, Alias("l4c.DataEndpoint")]
public sealed record DataEndpoint([property: Id(0)] string Host, [property: Id(1)] int Port, [property: Id(2)] string? Silo = null)
{
    public override string ToString() => $"{Host}:{Port}";
}

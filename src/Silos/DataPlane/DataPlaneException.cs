using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Silos.DataPlane;

/// <summary>
/// A data-plane request failed at the remote silo or on the connection to it. Serializable (it can end a step that a
/// client awaits), so it carries no inner exception: the message says what happened.
/// </summary>
[GenerateSerializer, Alias("l4c.DataPlaneException")]
public sealed class DataPlaneException : Exception
{
    public DataPlaneException(DataEndpoint endpoint, string message)
        : base($"data plane {Describe(endpoint)}: {message}")
    {
    }

    private static string Describe(DataEndpoint endpoint) =>
        endpoint?.Silo is { } silo ? $"of silo {silo} at {endpoint}" : $"{endpoint}";
}

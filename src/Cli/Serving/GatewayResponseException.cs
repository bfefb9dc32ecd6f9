namespace Llama4Cluster.Cli.Serving;

/// <summary>The gateway answered, but not with what was asked for: an error status or a body that is not the expected JSON.</summary>
public sealed class GatewayResponseException(string message, int? statusCode = null) : Exception(message)
{
    /// <summary>The HTTP status, when the failure was one.</summary>
    public int? StatusCode { get; } = statusCode;
}

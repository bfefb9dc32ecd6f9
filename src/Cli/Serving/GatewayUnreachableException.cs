namespace Llama4Cluster.Cli.Serving;

/// <summary>No HTTP answer from the gateway at all: connection refused, name not resolved, or no reply in time.</summary>
public sealed class GatewayUnreachableException(string message, Exception? inner = null) : Exception(message, inner);

namespace Llama4Cluster.Cli.Serving.Cluster;

/// <summary>The engine behind the gateway cannot be called directly; the message says why (the overhead line is skipped).</summary>
public sealed class DirectEngineUnavailableException(string message) : Exception(message);

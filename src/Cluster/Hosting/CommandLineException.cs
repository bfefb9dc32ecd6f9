namespace Llama4Cluster.Cluster.Hosting;

/// <summary>A bad command line: one line for stderr, exit code 2.</summary>
public sealed class CommandLineException(string message) : Exception(message);

namespace Llama4Cluster.Cli;

/// <summary>Bad command-line input: reported on one line with exit code 2.</summary>
public sealed class UsageException(string message) : Exception(message);

namespace Llama4Cluster.Cluster.Hosting;

/// <summary>A bad command line: one line for stderr, exit code 2. <see cref="Unknown"/>: an option or argument no command takes.</summary>
public sealed class CommandLineException(string message, bool unknown = false) : Exception(message)
{
    /// <summary>True when the line holds an option or argument the command does not know (rather than a bad value).</summary>
    public bool Unknown { get; } = unknown;
}

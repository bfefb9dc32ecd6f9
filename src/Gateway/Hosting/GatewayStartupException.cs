namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The gateway cannot start; the message is the one line printed on stderr, <see cref="ExitCode"/> the process's exit code:
/// 2 for bad arguments or settings, 1 for a checkpoint or an environment it cannot use.
/// </summary>
public sealed class GatewayStartupException(string message, int exitCode, Exception? inner = null) : Exception(message, inner)
{
    public int ExitCode { get; } = exitCode;

    /// <summary>A bad argument or setting (exit code 2).</summary>
    public static GatewayStartupException Usage(string message) => new(message, 2);

    /// <summary>A checkpoint, silo assembly or environment that cannot be used (exit code 1).</summary>
    public static GatewayStartupException Failed(string message, Exception? inner = null) => new(message, 1, inner);
}

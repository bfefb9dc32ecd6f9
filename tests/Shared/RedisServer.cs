using System.Globalization;
using Llama4Cluster.Cluster.Processes;

namespace Llama4Cluster.Tests.Shared;

/// <summary>
/// A throwaway <c>redis-server</c> on a free loopback port, no persistence; killed on dispose. Shared by the test projects
/// that start multi-process clusters (linked from tests/Shared); the process and the port come from src/Cluster.
/// </summary>
public sealed class RedisServer : IDisposable
{
    private readonly ChildProcess _process;

    private RedisServer(ChildProcess process, int port)
    {
        _process = process;
        Endpoint = string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{port}");
    }

    /// <summary>The redis-server process (a fault drill kills it).</summary>
    public ChildProcess Process => _process;

    /// <summary>HOST:PORT.</summary>
    public string Endpoint { get; }

    public const string MissingReason =
        "redis-server is not on the PATH (apt-get install -y redis-server): the multi-process test needs it for Orleans membership";

    public static string? FindExecutable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "redis-server")).FirstOrDefault(File.Exists);

    public static async Task<RedisServer> StartAsync()
    {
        string exe = FindExecutable() ?? throw new InvalidOperationException("redis-server is not on the PATH");
        int port = FreePorts.Loopback();
        var process = ChildProcess.Start("redis-server", exe,
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]);
        var server = new RedisServer(process, port);
        if (await FreePorts.WaitUntilListeningAsync(port, DateTime.UtcNow.AddSeconds(20), () => !process.HasExited)) return server;
        server.Dispose();
        throw new InvalidOperationException($"redis-server did not listen on port {port}:\n{process.Output}");
    }

    public void Dispose() => _process.Dispose();
}

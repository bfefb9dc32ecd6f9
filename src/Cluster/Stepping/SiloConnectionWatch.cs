using System.Net.Sockets;
using Llama4Cluster.Contracts.Experts;

namespace Llama4Cluster.Cluster.Stepping;

/// <summary>
/// Learns of a silo's death the moment its process dies: an idle TCP connection to the silo's data-plane listener, which
/// the operating system closes or resets when the process exits (even on SIGKILL), long before Orleans' membership
/// declares the silo dead or a call to it times out. The watcher sends the data-plane preamble (a listener closes a
/// connection that says nothing) and then nothing more: the listener waits for a frame that never comes, at no cost. A
/// stalled but living process keeps the connection open: stalls are bounded by timeouts.
/// </summary>
public sealed class SiloConnectionWatch : IDisposable
{
    private readonly Socket _socket;
    private readonly CancellationTokenSource _lost = new();
    private volatile bool _disposed;

    private SiloConnectionWatch(Socket socket, DataEndpoint endpoint, string silo)
    {
        _socket = socket;
        Endpoint = endpoint;
        Silo = silo;
    }

    public DataEndpoint Endpoint { get; }

    /// <summary>The silo's identity, for messages.</summary>
    public string Silo { get; }

    /// <summary>Cancelled when the connection closes: the silo's process is gone (or stopping).</summary>
    public CancellationToken Lost => _lost.Token;

    /// <summary>Connects to <paramref name="endpoint"/> and starts watching.</summary>
    public static async Task<SiloConnectionWatch> OpenAsync(DataEndpoint endpoint, string silo, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try
        {
            try
            {
                await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw new IOException($"cannot reach silo {silo}'s data plane at {endpoint} ({e.SocketErrorCode}: {e.Message}): check that the " +
                    "silo's advertised address (--advertise) is reachable from this host", e);
            }
            await socket.SendAsync(DataPlanePreamble.Create(), SocketFlags.None, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var watch = new SiloConnectionWatch(socket, endpoint, silo);
        _ = watch.WatchAsync();
        return watch;
    }

    private async Task WatchAsync()
    {
        var buffer = new byte[64];
        try
        {
            while (await _socket.ReceiveAsync(buffer, SocketFlags.None).ConfigureAwait(false) > 0)
            {
                // The listener's own preamble, then nothing.
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Reset, or disposed by us.
        }

        if (!_disposed) _lost.Cancel();
    }

    /// <summary>Closes the connection (the token is left as it is: steps may still hold it).</summary>
    public void Dispose()
    {
        _disposed = true;
        _socket.Dispose();
    }
}

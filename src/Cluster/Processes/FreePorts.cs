using System.Net;
using System.Net.Sockets;

namespace Llama4Cluster.Cluster.Processes;

/// <summary>Free TCP ports (on loopback unless asked for another address), for the processes and listeners this system starts on one machine.</summary>
public static class FreePorts
{
    /// <summary>
    /// A port the OS reports free on 127.0.0.1 right now. The listener that asked is closed before this returns, so another
    /// process may take the port before the caller binds it: callers that can bind port 0 themselves should do that instead.
    /// </summary>
    public static int Loopback() => On(IPAddress.Loopback);

    /// <summary>A port the OS reports free on <paramref name="address"/> (a wildcard: on every interface) right now; as
    /// <see cref="Loopback"/>, another process may take it before the caller binds it.</summary>
    public static int On(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        using var listener = new TcpListener(address, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Waits until something accepts connections on 127.0.0.1:<paramref name="port"/>; false at the deadline or when <paramref name="stillRunning"/> says the owner is gone.</summary>
    public static async Task<bool> WaitUntilListeningAsync(int port, DateTime deadlineUtc, Func<bool> stillRunning, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stillRunning);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
                return true;
            }
            catch (SocketException) when (DateTime.UtcNow < deadlineUtc && stillRunning())
            {
                await Task.Delay(100, cancellationToken);
            }
            catch (SocketException)
            {
                return false;
            }
        }
    }
}

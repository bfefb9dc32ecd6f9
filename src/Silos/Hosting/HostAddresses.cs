using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// What <see cref="SiloAddresses.Resolve"/> asks of the machine: its interface addresses, whether an address is one of
/// them, and name resolution. Replaceable in tests; <see cref="System"/> asks the operating system.
/// </summary>
public class HostAddresses
{
    /// <summary>This machine.</summary>
    public static HostAddresses System { get; } = new();

    /// <summary>The unicast addresses of every interface (IPv4 first), for messages.</summary>
    public virtual IReadOnlyList<IPAddress> List()
    {
        try
        {
            return NetworkInterface.GetAllNetworkInterfaces()
                .SelectMany(n => n.GetIPProperties().UnicastAddresses.Select(u => u.Address))
                .Distinct()
                .OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)
                .ToList();
        }
        catch (NetworkInformationException)
        {
            return [];
        }
    }

    /// <summary>
    /// True when <paramref name="address"/> belongs to this host: an interface address, or a loopback address the host can
    /// bind (Linux routes all of 127.0.0.0/8 to lo, though lo lists only 127.0.0.1; other systems need an alias first, and
    /// then the bind succeeds too). The bind is tried for loopback only: with <c>net.ipv4.ip_nonlocal_bind</c> set, a bind
    /// succeeds for any address and would prove nothing.
    /// </summary>
    public virtual bool IsLocal(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (List().Contains(address)) return true;
        if (!IPAddress.IsLoopback(address)) return false;
        try
        {
            using var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(address, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>The addresses <paramref name="host"/> resolves to.</summary>
    /// <exception cref="SocketException">The name does not resolve.</exception>
    public virtual IPAddress[] Resolve(string host) => Dns.GetHostAddresses(host);
}

using System.Net;
using System.Net.Sockets;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// A silo's two addresses. <see cref="Advertised"/> is what other processes use to reach it: Orleans' membership entry (so
/// other silos and, through the gateway list, clients), and the host of its data-plane endpoint. <see cref="Listen"/> is
/// what its Orleans silo and gateway ports and its data-plane socket bind: the advertised address itself, or a wildcard
/// (<c>0.0.0.0</c>, <c>::</c>) behind NAT or when every interface should answer. <see cref="Source"/> says where the
/// advertised address came from, for the start-up log.
/// </summary>
public sealed record SiloAddresses(IPAddress Advertised, IPAddress Listen, string Source)
{
    /// <summary>The environment variable Kubernetes' downward API sets to the pod's IP (deploy/k8s does).</summary>
    public const string PodIpVariable = "POD_IP";

    /// <summary>Loopback only: a cluster of processes on one machine (the default without <c>--advertise</c> and <c>POD_IP</c>).</summary>
    public static SiloAddresses Loopback { get; } = new(IPAddress.Loopback, IPAddress.Loopback, "default");

    /// <summary>
    /// The addresses from the silo's settings. <paramref name="advertise"/> (<c>--advertise</c>) is an IP or a host name,
    /// resolved once, here; without it <paramref name="podIp"/> (<c>POD_IP</c>) is advertised, and without either, loopback.
    /// <paramref name="listen"/> (<c>--listen</c>) is an IP; without it the silo binds the advertised address when that is
    /// an address of this host, else every address. Unless <paramref name="advertiseUnchecked"/> (NAT: the advertised
    /// address belongs to a router, not to this host), an advertised address that is not this host's is refused, since no
    /// peer would ever reach the silo by it.
    /// </summary>
    /// <exception cref="SiloAddressException">The addresses cannot work; the message says how to fix them.</exception>
    public static SiloAddresses Resolve(string? advertise, string? listen, bool advertiseUnchecked, string? podIp, HostAddresses host)
    {
        ArgumentNullException.ThrowIfNull(host);
        string source = !string.IsNullOrWhiteSpace(advertise) ? "--advertise" : !string.IsNullOrWhiteSpace(podIp) ? PodIpVariable : "default";
        string? wanted = source switch { "--advertise" => advertise!.Trim(), PodIpVariable => podIp!.Trim(), _ => null };
        var advertised = wanted is null ? IPAddress.Loopback : ResolveAdvertised(wanted, source, advertiseUnchecked, host);
        var bind = string.IsNullOrWhiteSpace(listen) ? DefaultListen(advertised, host) : ParseListen(listen.Trim(), advertised, host);
        return new SiloAddresses(advertised, bind, source);
    }

    private static IPAddress ResolveAdvertised(string wanted, string source, bool advertiseUnchecked, HostAddresses host)
    {
        IPAddress address;
        if (IPAddress.TryParse(wanted, out var literal))
        {
            if (IsWildcard(literal))
                throw new SiloAddressException($"{source} {wanted}: advertise an address other hosts can reach this silo by, not a wildcard " +
                    "(to bind every interface, pass --listen 0.0.0.0 or --listen ::)");
            address = literal;
        }
        else
        {
            address = ResolveName(wanted, source, advertiseUnchecked, host);
        }
        if (!advertiseUnchecked && !host.IsLocal(address))
        {
            string what = literal is null ? $"{address} ({source} {wanted})" : $"{address}";
            throw new SiloAddressException($"advertised address {what} is not an address of this host (local addresses: {LocalList(host)}); " +
                "advertise an address of this host, or pass --advertise-unchecked true when a router forwards that address here (NAT)");
        }
        return address;
    }

    /// <summary>A host name's address: the first that belongs to this host (IPv4 first), else, unchecked, the first one.</summary>
    private static IPAddress ResolveName(string name, string source, bool advertiseUnchecked, HostAddresses host)
    {
        IPAddress[] found;
        try
        {
            found = host.Resolve(name);
        }
        catch (Exception e) when (e is SocketException or ArgumentException)
        {
            throw new SiloAddressException($"{source} {name}: the name does not resolve ({e.Message}); pass an IP address or a name this host resolves");
        }
        var ordered = found.Where(a => !IsWildcard(a))
            .OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).ToArray();
        if (ordered.Length == 0)
            throw new SiloAddressException($"{source} {name}: the name resolves to no usable address; pass an IP address or a name this host resolves");
        var local = ordered.FirstOrDefault(host.IsLocal);
        if (local is not null || advertiseUnchecked) return local ?? ordered[0];
        throw new SiloAddressException($"advertised address {name} ({string.Join(", ", ordered.Select(a => a.ToString()))}) is not an address of this host " +
            $"(local addresses: {LocalList(host)}); advertise a name or address of this host, or pass --advertise-unchecked true when a router " +
            "forwards that address here (NAT)");
    }

    private static IPAddress DefaultListen(IPAddress advertised, HostAddresses host) =>
        host.IsLocal(advertised) ? advertised : AnyOf(advertised.AddressFamily);

    private static IPAddress ParseListen(string listen, IPAddress advertised, HostAddresses host)
    {
        if (!IPAddress.TryParse(listen, out var address))
            throw new SiloAddressException($"--listen '{listen}': not an IP address (use 0.0.0.0 or :: for every interface, or an address of this host)");
        if (address.Equals(IPAddress.Any) && advertised.AddressFamily == AddressFamily.InterNetworkV6)
            throw new SiloAddressException($"--listen 0.0.0.0 binds IPv4 only, but the advertised address {advertised} is IPv6: use --listen ::");
        if (!IsWildcard(address) && !host.IsLocal(address))
            throw new SiloAddressException($"--listen {address} is not an address of this host (local addresses: {LocalList(host)}); " +
                "use 0.0.0.0 or :: for every interface");
        return address;
    }

    private static bool IsWildcard(IPAddress address) =>
        address.Equals(IPAddress.Any) || address.Equals(IPAddress.IPv6Any) || address.Equals(IPAddress.None) || address.Equals(IPAddress.IPv6None);

    private static IPAddress AnyOf(AddressFamily family) => family == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;

    private static string LocalList(HostAddresses host)
    {
        var list = host.List();
        return list.Count == 0 ? "none found" : string.Join(", ", list.Select(a => a.ToString()));
    }

    public override string ToString() => Listen.Equals(Advertised)
        ? $"{Advertised} (from {Source})"
        : $"{Advertised} (from {Source}), listening on {Listen}";
}

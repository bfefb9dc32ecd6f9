using System.Net;
using System.Net.Sockets;
using Llama4Cluster.Silos.Hosting;

namespace Llama4Cluster.Silos.Tests.Hosting;

/// <summary>
/// Which address a silo advertises and which it binds, from <c>--advertise</c>, <c>--listen</c>,
/// <c>--advertise-unchecked</c> and <c>POD_IP</c>, against a made-up host (two interfaces, a small DNS) so the answers do
/// not depend on the machine the tests run on.
/// </summary>
public sealed class SiloAddressesTests
{
    private static readonly IPAddress Lan = IPAddress.Parse("10.1.2.3");

    /// <summary>Loopback and 10.1.2.3 are this host's; <c>node-a</c> resolves to it, <c>peer</c> to another host.</summary>
    private sealed class FakeHost : HostAddresses
    {
        public override IReadOnlyList<IPAddress> List() => [IPAddress.Loopback, Lan];

        public override bool IsLocal(IPAddress address) => List().Contains(address) || IPAddress.IsLoopback(address);

        public override IPAddress[] Resolve(string host) => host switch
        {
            "node-a" => [IPAddress.Parse("fe80::1"), Lan],
            "peer" => [IPAddress.Parse("10.9.9.9")],
            _ => throw new SocketException((int)SocketError.HostNotFound),
        };
    }

    private static SiloAddresses Resolve(string? advertise = null, string? listen = null, bool @unchecked = false, string? podIp = null) =>
        SiloAddresses.Resolve(advertise, listen, @unchecked, podIp, new FakeHost());

    [Fact]
    public void WithoutAdvertiseOrPodIpTheSiloStaysOnLoopback()
    {
        var a = Resolve();
        Assert.Equal(IPAddress.Loopback, a.Advertised);
        Assert.Equal(IPAddress.Loopback, a.Listen);
        Assert.Equal("default", a.Source);
    }

    [Fact]
    public void ALocalAddressIsAdvertisedAndBound()
    {
        var a = Resolve("127.0.0.3");
        Assert.Equal(IPAddress.Parse("127.0.0.3"), a.Advertised);
        Assert.Equal(IPAddress.Parse("127.0.0.3"), a.Listen);
        Assert.Equal("--advertise", a.Source);
    }

    [Fact]
    public void PodIpIsTheDefaultAndAFlagOverridesIt()
    {
        var pod = Resolve(podIp: "10.1.2.3", listen: "0.0.0.0");
        Assert.Equal((Lan, IPAddress.Any, "POD_IP"), (pod.Advertised, pod.Listen, pod.Source));
        Assert.Equal(IPAddress.Parse("127.0.0.2"), Resolve("127.0.0.2", podIp: "10.1.2.3").Advertised);
    }

    [Fact]
    public void AHostNameResolvesOnceToItsLocalIpv4Address()
    {
        var a = Resolve("node-a");
        Assert.Equal(Lan, a.Advertised);
        Assert.Equal(Lan, a.Listen);
    }

    [Fact]
    public void AnAddressOfAnotherHostIsRefusedUnlessUnchecked()
    {
        var e = Assert.Throws<SiloAddressException>(() => Resolve("10.255.255.1"));
        Assert.StartsWith("advertised address 10.255.255.1 is not an address of this host (local addresses: 127.0.0.1, 10.1.2.3)", e.Message, StringComparison.Ordinal);
        var name = Assert.Throws<SiloAddressException>(() => Resolve("peer"));
        Assert.StartsWith("advertised address peer (10.9.9.9) is not an address of this host", name.Message, StringComparison.Ordinal);

        // Behind NAT: advertised as given, bound on every interface (the address is not this host's to bind).
        var nat = Resolve("10.255.255.1", @unchecked: true);
        Assert.Equal((IPAddress.Parse("10.255.255.1"), IPAddress.Any), (nat.Advertised, nat.Listen));
        Assert.Equal(IPAddress.Parse("10.9.9.9"), Resolve("peer", @unchecked: true).Advertised);
    }

    [Theory]
    [InlineData("no-such-host", null, "--advertise no-such-host: the name does not resolve")]
    [InlineData("0.0.0.0", null, "--advertise 0.0.0.0: advertise an address other hosts can reach this silo by, not a wildcard")]
    [InlineData("::", null, "--advertise ::: advertise an address other hosts can reach this silo by, not a wildcard")]
    [InlineData("10.1.2.3", "eth0", "--listen 'eth0': not an IP address")]
    [InlineData("10.1.2.3", "10.7.7.7", "--listen 10.7.7.7 is not an address of this host (local addresses: 127.0.0.1, 10.1.2.3)")]
    [InlineData("::1", "0.0.0.0", "--listen 0.0.0.0 binds IPv4 only, but the advertised address ::1 is IPv6: use --listen ::")]
    public void AddressesThatCannotWorkAreRefusedSayingWhy(string advertise, string? listen, string message)
    {
        var e = Assert.Throws<SiloAddressException>(() => Resolve(advertise, listen));
        Assert.StartsWith(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheMachinesOwnLoopbackRangeIsLocal()
    {
        // Linux routes all of 127.0.0.0/8 to lo: the multi-address cluster tests stand hosts on 127.0.0.2, 127.0.0.3, ...
        Assert.True(HostAddresses.System.IsLocal(IPAddress.Loopback));
        if (OperatingSystem.IsLinux()) Assert.True(HostAddresses.System.IsLocal(IPAddress.Parse("127.0.0.2")));
        Assert.False(HostAddresses.System.IsLocal(IPAddress.Parse("10.255.255.1")));
    }
}

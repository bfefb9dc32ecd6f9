using System.Globalization;

namespace Llama4Cluster.Cluster.Placement;

/// <summary>One link as the cost model sees it: bandwidth each way (bytes/s) and the latency of one message (s).</summary>
public sealed record LinkSpec(string Name, double BytesPerSecond, double LatencySeconds)
{
    /// <summary>Time to move <paramref name="bytes"/> one way as one message.</summary>
    public double Seconds(double bytes) => bytes / BytesPerSecond + LatencySeconds;
}

/// <summary>
/// The links between devices: <see cref="IntraHost"/> between devices of one silo (host), <see cref="InterHost"/> between
/// silos. Bandwidths: the GPU's NVLink or PCIe figure (<see cref="GpuSpec"/>); InfiniBand NDR 400 Gb/s per GPU (50 GB/s,
/// the DGX H100 layout of one ConnectX-7 per GPU); Ethernet 100 Gb/s (12.5 GB/s). Latencies are assumptions of the right
/// order (NVLink / PCIe 5 µs, InfiniBand 10 µs, Ethernet 50 µs, each including a grain call's software overhead at its
/// best), not measurements; give measured ones with <c>--link-latency-us</c>.
/// </summary>
public sealed record Interconnect(string Name, LinkSpec IntraHost, LinkSpec InterHost)
{
    public static IReadOnlyList<string> Names { get; } = ["nvlink+ib", "nvlink+eth", "pcie+eth"];

    /// <summary>
    /// <paramref name="name"/> (nvlink+ib, nvlink+eth, pcie+eth) for <paramref name="gpu"/>; <paramref name="interHostGbps"/>
    /// overrides the between-hosts bandwidth (Gbit/s), <paramref name="latencyMicroseconds"/> both links' latency.
    /// </summary>
    public static Interconnect Get(string name, GpuSpec gpu, double? interHostGbps = null, double? latencyMicroseconds = null)
    {
        ArgumentNullException.ThrowIfNull(gpu);
        var (intra, inter) = name.ToLowerInvariant() switch
        {
            "nvlink+ib" => (new LinkSpec("NVLink", gpu.NvLinkBytesPerSecond, 5e-6), new LinkSpec("InfiniBand NDR 400 Gb/s", 50e9, 10e-6)),
            "nvlink+eth" => (new LinkSpec("NVLink", gpu.NvLinkBytesPerSecond, 5e-6), new LinkSpec("Ethernet 100 Gb/s", 12.5e9, 50e-6)),
            "pcie+eth" => (new LinkSpec("PCIe", gpu.PcieBytesPerSecond, 5e-6), new LinkSpec("Ethernet 100 Gb/s", 12.5e9, 50e-6)),
            _ => throw new ArgumentException($"--interconnect must be one of {string.Join(", ", Names)}; got '{name}'"),
        };
        if (interHostGbps is { } gbps)
        {
            if (!(gbps > 0)) throw new ArgumentException($"--link-gbps must be positive; got {gbps}");
            inter = inter with { Name = string.Create(CultureInfo.InvariantCulture, $"{gbps:0.#} Gb/s link"), BytesPerSecond = gbps * 1e9 / 8 };
        }
        if (latencyMicroseconds is { } us)
        {
            if (!(us >= 0)) throw new ArgumentException($"--link-latency-us must not be negative; got {us}");
            intra = intra with { LatencySeconds = us * 1e-6 };
            inter = inter with { LatencySeconds = us * 1e-6 };
        }
        return new Interconnect(name.ToLowerInvariant(), intra, inter);
    }

    /// <summary>The link between a device of <paramref name="siloA"/> and one of <paramref name="siloB"/>.</summary>
    public LinkSpec Between(string siloA, string siloB) => string.Equals(siloA, siloB, StringComparison.Ordinal) ? IntraHost : InterHost;
}

using System.Globalization;
using System.Text.Json;
using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Cli.Commands;

/// <summary>
/// The link between hosts as <c>llama4 bench cluster --json</c> measured it (<c>plan --measured FILE</c>): each case's
/// dispatch payload (<c>dispatch_payload_bytes</c>) echoed through the cluster's data plane at
/// <c>transport_bytes_per_s</c> (both directions' bytes over the round trip), so <c>bytes / transport_bytes_per_s</c> is
/// one way's time and each case is one point (bytes, seconds) of <c>t = latency + bytes / bandwidth</c>;
/// two or more payload sizes give both by a least-squares line, one gives the bandwidth alone (latency 0). Run the bench
/// between the hosts the plan is for (<c>--silo-addresses distinct</c> on one host measures loopback).
/// </summary>
internal sealed record MeasuredLink(double BytesPerSecond, double LatencySeconds, string How)
{
    public LinkSpec ToLink(string file) => new(
        string.Create(CultureInfo.InvariantCulture, $"measured link {BytesPerSecond * 8 / 1e9:0.###} Gb/s, {LatencySeconds * 1e6:0.#} µs ({Path.GetFileName(file)}: {How})"),
        BytesPerSecond, LatencySeconds);

    public static MeasuredLink Load(string file)
    {
        if (!File.Exists(file)) throw new UsageException($"--measured: file '{file}' does not exist (write one with llama4 bench cluster --json > FILE)");
        JsonElement cases;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(file));
            if (!doc.RootElement.TryGetProperty("cases", out var c) || c.ValueKind != JsonValueKind.Array || c.GetArrayLength() == 0)
                throw new UsageException($"--measured {file}: no \"cases\" array: expected the output of llama4 bench cluster --json");
            cases = c.Clone();
        }
        catch (JsonException e)
        {
            throw new UsageException($"--measured {file}: not JSON ({e.Message})");
        }

        var points = new List<(double Bytes, double Seconds)>();
        foreach (var c in cases.EnumerateArray())
        {
            double bytes = Number(c, "dispatch_payload_bytes", file), rate = Number(c, "transport_bytes_per_s", file);
            if (!(bytes > 0) || !(rate > 0)) throw new UsageException($"--measured {file}: a case has no positive dispatch_payload_bytes and transport_bytes_per_s");
            points.Add((bytes, bytes / rate));
        }

        return Fit(points);
    }

    /// <summary>t = latency + bytes / bandwidth through the points; one size (or a fit that says nothing physical) gives the
    /// bandwidth of the largest echo and no latency.</summary>
    internal static MeasuredLink Fit(IReadOnlyList<(double Bytes, double Seconds)> points)
    {
        var largest = points.MaxBy(p => p.Bytes);
        if (points.Select(p => p.Bytes).Distinct().Count() >= 2)
        {
            double mb = points.Average(p => p.Bytes), mt = points.Average(p => p.Seconds);
            double slope = points.Sum(p => (p.Bytes - mb) * (p.Seconds - mt)) / points.Sum(p => (p.Bytes - mb) * (p.Bytes - mb));
            double latency = mt - slope * mb;
            if (slope > 0 && latency >= 0)
                return new MeasuredLink(1 / slope, latency, $"fit of {points.Count} echoes");
        }

        return new MeasuredLink(largest.Bytes / largest.Seconds, 0, "bandwidth of the largest echo; latency not separable");
    }

    private static double Number(JsonElement c, string name, string file) =>
        c.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble()
            : throw new UsageException($"--measured {file}: a case has no number \"{name}\"");
}

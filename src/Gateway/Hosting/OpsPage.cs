using System.Text.Json.Serialization;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// <c>GET /ops</c>: the operations page, plain HTML and JavaScript embedded in the gateway (Hosting/Ops/ops.html). It reads
/// the gateway's own <c>/info</c>, <c>/ready</c> and <c>/metrics</c> every 2 s: readiness, ranks and shards loaded, shard
/// replicas, queue, output tokens/s, TTFT and ITL over the last interval, and a layer × expert heatmap of the tokens routed
/// since the last refresh (<c>llama4:expert_tokens_total</c>). Open without an API key, as <c>/metrics</c>.
/// </summary>
public static class OpsPage
{
    private const string ResourceName = "Llama4Cluster.Gateway.Ops.ops.html";

    private static readonly Lazy<byte[]> s_page = new(() =>
    {
        using var stream = typeof(OpsPage).Assembly.GetManifestResourceStream(ResourceName)
            ?? throw new InvalidOperationException($"the gateway assembly lacks its embedded {ResourceName}");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static IResult Serve() => Results.Bytes(s_page.Value, "text/html; charset=utf-8");

    /// <summary><c>GET /ops/silos</c>: the cluster's silos as Orleans membership lists them (name, address, host, status, start
    /// time), for the page's silo table; 503 with the error when the cluster cannot be asked.</summary>
    public static async Task<IResult> SilosAsync(IGrainFactory grains)
    {
        ArgumentNullException.ThrowIfNull(grains);
        try
        {
            var hosts = await grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: false);
            return Results.Json(hosts.OrderBy(h => h.SiloName, StringComparer.Ordinal).Select(h => new SiloRow(h.SiloName, h.SiloAddress.ToParsableString(),
                h.HostName, h.Status.ToString(), h.StartTime)));
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
        {
            return Results.Json(new { error = e.Message }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private sealed record SiloRow(
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("address")] string Address,
        [property: JsonPropertyName("host")] string Host,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("started")] DateTime Started);
}

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
}

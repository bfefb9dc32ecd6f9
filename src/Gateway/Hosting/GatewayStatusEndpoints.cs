namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The gateway's operational endpoints, outside the OpenAI API (no API key: load balancers and orchestrators call them):
/// <c>GET /health</c> (the process is up), <c>GET /ready</c> (every attention rank and expert shard placed, loaded and, after
/// start, answering the latest check: 200, else 503 with what is loaded, what is missing or the error; see
/// <see cref="ReadinessSnapshot"/>), <c>GET /info</c> (<see cref="GatewayInfo"/>).
/// </summary>
public static class GatewayStatusEndpoints
{
    public static IEndpointRouteBuilder MapGatewayStatus(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/health", () => Results.Json(new HealthBody("ok")));
        endpoints.MapGet("/ready", async (ClusterReadiness readiness, ClusterHealthCheck check, HttpContext context) =>
        {
            // The periodic checks keep it current; if they have fallen behind, check now rather than answer from the past.
            await check.EnsureFreshAsync(context.RequestAborted);
            var snapshot = readiness.Snapshot();
            return Results.Json(snapshot, statusCode: snapshot.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        endpoints.MapGet("/info", (GatewayInfo info) => Results.Json(info));
        return endpoints;
    }

    private sealed record HealthBody([property: System.Text.Json.Serialization.JsonPropertyName("status")] string Status);
}

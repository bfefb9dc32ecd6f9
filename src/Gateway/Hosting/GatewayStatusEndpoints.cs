namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The gateway's operational endpoints, outside the OpenAI API (no API key: load balancers and orchestrators call them):
/// <c>GET /health</c> (the process is up), <c>GET /ready</c> (every attention rank and expert shard placed and loaded:
/// 200, else 503 with what is loaded so far or the error), <c>GET /info</c> (<see cref="GatewayInfo"/>).
/// </summary>
public static class GatewayStatusEndpoints
{
    public static IEndpointRouteBuilder MapGatewayStatus(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapGet("/health", () => Results.Json(new HealthBody("ok")));
        endpoints.MapGet("/ready", (ClusterReadiness readiness) =>
        {
            var snapshot = readiness.Snapshot();
            return Results.Json(snapshot, statusCode: snapshot.IsReady ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
        endpoints.MapGet("/info", (GatewayInfo info) => Results.Json(info));
        return endpoints;
    }

    private sealed record HealthBody([property: System.Text.Json.Serialization.JsonPropertyName("status")] string Status);
}

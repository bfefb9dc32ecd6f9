using Llama4Cluster.ServiceDefaults;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// The gateway's operational endpoints, outside the OpenAI API (no API key: load balancers and orchestrators call them):
/// <c>GET /health</c> (the process is up: <c>{"status":"ok"}</c>) and <c>GET /ready</c> (every attention rank and expert shard
/// placed, loaded and, after start, answering the latest check: 200, else 503 with what is loaded, what is missing or the
/// error; see <see cref="ReadinessSnapshot"/>), both ASP.NET Core health checks (<see cref="HealthEndpointExtensions"/>,
/// <see cref="ClusterReadinessHealthCheck"/>), <c>GET /info</c> (<see cref="GatewayInfo"/>) and <c>GET /ops</c>, the
/// operations page (<see cref="OpsPage"/>).
/// </summary>
public static class GatewayStatusEndpoints
{
    public static IEndpointRouteBuilder MapGatewayStatus(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapDefaultEndpoints();
        endpoints.MapGet("/info", (GatewayInfo info) => Results.Json(info));
        endpoints.MapGet("/ops", OpsPage.Serve);
        endpoints.MapGet("/ops/silos", OpsPage.SilosAsync);
        return endpoints;
    }
}

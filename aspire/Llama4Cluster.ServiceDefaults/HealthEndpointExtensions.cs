using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// ASP.NET Core health checks behind the two probes: <c>GET /health</c> runs the checks tagged <see cref="LiveTag"/>
/// (the process answers: <c>{"status":"ok"}</c>), <c>GET /ready</c> those tagged <see cref="ReadyTag"/> (the host's own
/// readiness: a gateway's cluster, a silo's start). 200 when healthy or degraded, 503 when unhealthy. The body is the one
/// a check put in its result's data under <see cref="HealthResponses.BodyKey"/> (so each host keeps its own JSON), else
/// <c>{"status":"ok"}</c> or <c>{"status":"unhealthy"}</c>.
/// </summary>
public static class HealthEndpointExtensions
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    /// <summary>Registers the health checks with a liveness check that always passes (the process answers).</summary>
    public static TBuilder AddDefaultHealthChecks<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHealthChecks().AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag]);
        return builder;
    }

    /// <summary>Maps <c>GET /health</c> and <c>GET /ready</c> (see the class summary).</summary>
    public static IEndpointRouteBuilder MapDefaultEndpoints(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        endpoints.MapHealthChecks("/health", Options(LiveTag));
        endpoints.MapHealthChecks("/ready", Options(ReadyTag));
        return endpoints;
    }

    private static HealthCheckOptions Options(string tag) => new()
    {
        Predicate = registration => registration.Tags.Contains(tag),
        ResponseWriter = HealthResponses.WriteAsync,
        AllowCachingResponses = false,
    };
}

using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// Readiness of a host that is not a web application (a silo): ready once every hosted service has started (an Orleans
/// silo has joined its cluster and activated its startup grains), unhealthy before and while stopping.
/// </summary>
public sealed class HostStartedHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
{
    public const string Name = "started";

    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        bool started = lifetime.ApplicationStarted.IsCancellationRequested;
        bool stopping = lifetime.ApplicationStopping.IsCancellationRequested;
        return Task.FromResult(started && !stopping
            ? HealthCheckResult.Healthy("started")
            : HealthCheckResult.Unhealthy(stopping ? "stopping" : "starting"));
    }
}

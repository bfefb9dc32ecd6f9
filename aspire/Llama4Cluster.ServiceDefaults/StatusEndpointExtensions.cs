using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>Registers a <see cref="StatusEndpoint"/> on a non-web host.</summary>
public static class StatusEndpointExtensions
{
    /// <summary>Adds the service defaults (if not yet) and a <see cref="StatusEndpoint"/> on <paramref name="port"/>, started
    /// before the host's other hosted services; <c>/ready</c> answers 200 once the host has started
    /// (<see cref="HostStartedHealthCheck"/>).</summary>
    public static TBuilder AddStatusEndpoint<TBuilder>(this TBuilder builder, int port) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        builder.AddServiceDefaults();
        builder.Services.AddHealthChecks().AddCheck<HostStartedHealthCheck>(HostStartedHealthCheck.Name, tags: [HealthEndpointExtensions.ReadyTag]);
        builder.Services.AddSingleton(sp => new StatusEndpoint(port, sp.GetRequiredService<HealthCheckService>(), sp.GetRequiredService<MetricsScrape>(),
            sp.GetRequiredService<ILogger<StatusEndpoint>>()));
        // First among the hosted services: it answers while the others (an Orleans silo loading its grains) start.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IHostedService>(sp => sp.GetRequiredService<StatusEndpoint>()));
        return builder;
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// The defaults every host of the cluster shares (Aspire's ServiceDefaults, written by hand): OpenTelemetry
/// (<see cref="TelemetryHostingExtensions.ConfigureOpenTelemetry{TBuilder}"/>), health checks
/// (<see cref="HealthEndpointExtensions.AddDefaultHealthChecks{TBuilder}"/>), and for every <c>HttpClient</c> made by the
/// factory the standard resilience pipeline and service discovery (names such as <c>http://gateway</c> resolve through
/// configuration, as Aspire's AppHost writes it).
/// </summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Adds the service defaults. Idempotent: a second call changes nothing.</summary>
    public static TBuilder AddServiceDefaults<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder.Services.Any(d => d.ServiceType == typeof(ServiceDefaultsMarker))) return builder;
        builder.Services.AddSingleton<ServiceDefaultsMarker>();
        builder.ConfigureOpenTelemetry();
        builder.AddDefaultHealthChecks();
        builder.Services.AddServiceDiscovery();
        builder.Services.ConfigureHttpClientDefaults(http =>
        {
            http.AddStandardResilienceHandler();
            http.AddServiceDiscovery();
        });
        return builder;
    }

    private sealed class ServiceDefaultsMarker;
}

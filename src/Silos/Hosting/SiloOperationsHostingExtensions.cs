using System.Globalization;
using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// The silo process's operations side: the service defaults (OpenTelemetry logs, metrics and traces, OTLP when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; health checks), with <c>--http-port P</c> (<c>Llama4:HttpPort</c>) a small HTTP
/// endpoint serving <c>/health</c>, <c>/ready</c> (200 once the silo has started) and <c>/metrics</c> (<see cref="StatusEndpoint"/>),
/// and with <c>--dashboard P</c> (<c>Llama4:DashboardPort</c>) the Orleans dashboard (<see cref="DashboardEndpoint"/>).
/// </summary>
public static class SiloOperationsHostingExtensions
{
    public const string HttpPortKey = "Llama4:HttpPort";

    public const string DashboardPortKey = "Llama4:DashboardPort";

    /// <summary>The flags this adds to the silo host's.</summary>
    public static IReadOnlyList<ConfigurationFlag> Flags { get; } =
    [
        new("http-port", "P", HttpPortKey, "serve /health, /ready and /metrics on this port"),
        new("dashboard", "P", DashboardPortKey, "serve the Orleans dashboard on this port"),
    ];

    /// <summary>Adds the operations side (see the class summary) to a silo host.</summary>
    /// <exception cref="CommandLineException">A port that is not a number in 0..65535.</exception>
    public static IHostApplicationBuilder AddSiloOperations(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddServiceDefaults();
        if (Port(builder.Configuration, "--http-port", HttpPortKey) is int http) builder.AddStatusEndpoint(http);
        if (Port(builder.Configuration, "--dashboard", DashboardPortKey) is int dashboard) builder.UseOrleans(silo => silo.AddDashboardEndpoint(dashboard));
        return builder;
    }

    private static int? Port(IConfiguration configuration, string flag, string key)
    {
        string? text = configuration[key];
        if (string.IsNullOrWhiteSpace(text)) return null;
        if (!int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw new CommandLineException($"{flag} '{text}': use a port number from 0 to 65535");
        return port;
    }
}

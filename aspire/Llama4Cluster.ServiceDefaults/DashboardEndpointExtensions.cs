using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;
using Orleans.Hosting;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// <c>--dashboard PORT</c>: the Orleans dashboard's services on a silo or a client and a <see cref="DashboardEndpoint"/> serving
/// it. The dashboard's grains live on silos: a gateway that is a client of a cluster shows it only when the silos were started
/// with <c>--dashboard</c> too.
/// </summary>
public static class DashboardEndpointExtensions
{
    public static ISiloBuilder AddDashboardEndpoint(this ISiloBuilder silo, int port)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.AddDashboard();
        AddEndpoint(silo.Services, port);
        return silo;
    }

    public static IClientBuilder AddDashboardEndpoint(this IClientBuilder client, int port)
    {
        ArgumentNullException.ThrowIfNull(client);
        client.AddDashboard();
        AddEndpoint(client.Services, port);
        return client;
    }

    private static void AddEndpoint(IServiceCollection services, int port)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        services.AddSingleton(sp => new DashboardEndpoint(port, services, sp, sp.GetRequiredService<ILogger<DashboardEndpoint>>()));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<DashboardEndpoint>());
    }
}

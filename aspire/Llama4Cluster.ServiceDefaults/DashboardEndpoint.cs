using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// The Orleans dashboard (<c>Microsoft.Orleans.Dashboard</c>) on its own Kestrel at <see cref="Port"/> (<c>--dashboard PORT</c>
/// of silos and gateway; 0: an OS-chosen port, then <see cref="Address"/>). The dashboard's endpoints resolve their services
/// from the web application's container, while <c>AddDashboard</c> registered them in the host's (next to the silo or client
/// they talk to): this endpoint's container forwards every service type of the dashboard assembly to the host's instances.
/// </summary>
public sealed partial class DashboardEndpoint(int port, IServiceCollection hostServices, IServiceProvider host, ILogger<DashboardEndpoint> logger)
    : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    public int Port { get; } = port;

    /// <summary>The URL it listens on once started (http://127.0.0.1:PORT/ with the port filled in).</summary>
    public Uri? Address { get; private set; }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Any, Port));
        var dashboardAssembly = typeof(DashboardOptions).Assembly;
        foreach (var type in hostServices.Select(d => d.ServiceType)
                     .Where(t => t.Assembly == dashboardAssembly && !t.IsGenericTypeDefinition).Distinct().ToArray())
            builder.Services.AddSingleton(type, _ => host.GetRequiredService(type));
        builder.Services.AddSingleton(host.GetRequiredService<Microsoft.Extensions.Options.IOptions<DashboardOptions>>());
        var app = builder.Build();
        app.MapOrleansDashboard();
        await app.StartAsync(cancellationToken);
        _app = app;
        var bound = app.Urls.Select(u => new Uri(u)).FirstOrDefault();
        Address = new Uri($"http://127.0.0.1:{bound?.Port ?? Port}/");
        LogListening(Address.Port);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app) await app.StopAsync(cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_app is { } app) await app.DisposeAsync();
        _app = null;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Orleans dashboard on port {Port}")]
    private partial void LogListening(int port);
}

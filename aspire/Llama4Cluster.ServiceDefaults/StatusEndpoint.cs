using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// A small HTTP endpoint for a host that is not a web application (the silo host's <c>--http-port</c>): <c>GET /health</c>,
/// <c>GET /ready</c> (the host's health checks, as <see cref="HealthEndpointExtensions"/> answers them) and <c>GET /metrics</c>
/// (<see cref="MetricsScrape"/>), on its own Kestrel listening on every address at <see cref="Port"/> (0: an OS-chosen
/// port, then <see cref="Address"/>). It starts before the host's other services (probes answer while a silo loads) and
/// stops after them.
/// </summary>
public sealed partial class StatusEndpoint(int port, HealthCheckService health, MetricsScrape metrics, ILogger<StatusEndpoint> logger) : IHostedService, IAsyncDisposable
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
        var app = builder.Build();
        app.MapGet("/health", context => HealthResponses.AnswerAsync(context, health, HealthEndpointExtensions.LiveTag));
        app.MapGet("/ready", context => HealthResponses.AnswerAsync(context, health, HealthEndpointExtensions.ReadyTag));
        app.MapGet("/metrics", context =>
        {
            context.Response.ContentType = PrometheusMetricText.ContentType;
            return context.Response.WriteAsync(metrics.Render(), context.RequestAborted);
        });
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Status endpoint: GET /health, /ready and /metrics on port {Port}")]
    private partial void LogListening(int port);
}

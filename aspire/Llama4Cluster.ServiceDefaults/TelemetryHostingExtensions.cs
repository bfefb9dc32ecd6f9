using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>
/// OpenTelemetry for a host: logs, metrics (the project's meters, Orleans', the .NET runtime's, ASP.NET Core's and
/// HttpClient's) and traces (the project's sources, Orleans' application grain calls, incoming HTTP requests but the
/// probes and scrapes, outgoing HTTP). The metrics are also readable as Prometheus text (<see cref="MetricsScrape"/>, what
/// <c>/metrics</c> serves). With <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, all three are exported over OTLP.
/// Sampling is the SDK's: <c>OTEL_TRACES_SAMPLER</c> / <c>OTEL_TRACES_SAMPLER_ARG</c> (for example
/// <c>parentbased_traceidratio</c> and <c>0.1</c>); unset, every trace is kept (parent-based, always on), which costs a
/// decode step well under 2 % (docs/PERFORMANCE.md).
/// </summary>
public static class TelemetryHostingExtensions
{
    public static TBuilder ConfigureOpenTelemetry<TBuilder>(this TBuilder builder) where TBuilder : IHostApplicationBuilder
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Logging.AddOpenTelemetry(logging =>
        {
            logging.IncludeFormattedMessage = true;
            logging.IncludeScopes = true;
        });
        builder.Services.AddSingleton<MetricsScrape>();
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(builder.Environment.ApplicationName))
            .WithMetrics(metrics => metrics
                .AddMeter(Llama4Telemetry.SourcePattern, Llama4Telemetry.OrleansMeter)
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation()
                .AddReader(sp => sp.GetRequiredService<MetricsScrape>().Reader))
            .WithTracing(tracing => tracing
                .AddSource(Llama4Telemetry.SourcePattern, Llama4Telemetry.OrleansApplicationSource)
                .AddAspNetCoreInstrumentation(o => o.Filter = context => !Llama4Telemetry.IsOperationalPath(context.Request.Path.Value))
                .AddHttpClientInstrumentation());
        if (!string.IsNullOrWhiteSpace(builder.Configuration[Llama4Telemetry.OtlpEndpointVariable]))
            otel.UseOtlpExporter();
        return builder;
    }
}

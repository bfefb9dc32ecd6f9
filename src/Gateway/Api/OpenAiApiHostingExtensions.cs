using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Api;

/// <summary>
/// Adds the OpenAI-compatible HTTP API (as vLLM serves it) to a web application:
/// <c>services.AddOpenAiApi(o =&gt; ...)</c>, then <c>app.MapOpenAiApi()</c>. It needs an
/// <see cref="Scheduling.IGenerationScheduler"/> and a <see cref="Hosting.ServedModel"/> in the container.
/// </summary>
public static class OpenAiApiHostingExtensions
{
    /// <summary>Registers <see cref="ApiOptions"/> (validated at start), <see cref="GatewayMetrics"/> and the handlers.
    /// Safe to call more than once (each <paramref name="configure"/> is applied).</summary>
    public static IServiceCollection AddOpenAiApi(this IServiceCollection services, Action<ApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<ApiOptions>().ValidateOnStart();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ApiOptions>, ApiOptionsValidator>());
        services.TryAddSingleton<GatewayMetrics>();
        services.TryAddSingleton<OpenAiEndpoints>();
        return services;
    }

    /// <summary>
    /// Maps <c>POST /v1/chat/completions</c>, <c>POST /v1/completions</c>, <c>GET /v1/models</c>,
    /// <c>GET /v1/models/{model}</c>, <c>GET /metrics</c>, and a fallback that answers unknown paths (404) and known
    /// paths with the wrong method (405) with OpenAI error bodies. Endpoints mapped elsewhere (health, readiness)
    /// take precedence over the fallback.
    /// </summary>
    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if (endpoints.ServiceProvider.GetService<IServiceProviderIsService>() is { } services
            && !services.IsService(typeof(OpenAiEndpoints)))
        {
            throw new InvalidOperationException("MapOpenAiApi needs services.AddOpenAiApi() first.");
        }

        // The handlers (and through them the scheduler and the served model) are resolved at the first request, so
        // mapping does not force a model to load.
        static OpenAiEndpoints Api(HttpContext context) => context.RequestServices.GetRequiredService<OpenAiEndpoints>();
        endpoints.MapPost("/v1/chat/completions", context => Api(context).ChatCompletionsAsync(context));
        endpoints.MapPost("/v1/completions", context => Api(context).CompletionsAsync(context));
        endpoints.MapGet("/v1/models", context => Api(context).ModelsAsync(context));
        // Model ids may contain slashes (meta-llama/Llama-4-Scout-17B-16E-Instruct).
        endpoints.MapGet("/v1/models/{**model}", context => Api(context).ModelAsync(context));
        endpoints.MapGet("/metrics", context => Api(context).MetricsAsync(context));
        endpoints.MapFallback("{**path}", context => Api(context).FallbackAsync(context));
        return endpoints;
    }
}

using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.ServiceDefaults;

/// <summary>The JSON body of <c>/health</c> and <c>/ready</c> (see <see cref="HealthEndpointExtensions"/>).</summary>
public static class HealthResponses
{
    /// <summary>The key of a check's result data whose value is the endpoint's whole body.</summary>
    public const string BodyKey = "body";

    /// <summary>Writes <paramref name="report"/>'s body as JSON with the application's JSON options (the status code is set).</summary>
    public static Task WriteAsync(HttpContext context, HealthReport report)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(report);
        object body = report.Entries.OrderBy(e => e.Key, StringComparer.Ordinal)
            .Select(e => e.Value.Data.TryGetValue(BodyKey, out var b) ? b : null).FirstOrDefault(b => b is not null)
            ?? new StatusBody(report.Status == HealthStatus.Unhealthy ? "unhealthy" : "ok");
        var options = context.RequestServices.GetService<IOptions<JsonOptions>>()?.Value.SerializerOptions ?? JsonSerializerOptions.Web;
        context.Response.ContentType = "application/json; charset=utf-8";
        return JsonSerializer.SerializeAsync(context.Response.Body, body, body.GetType(), options, context.RequestAborted);
    }

    /// <summary>Runs the checks tagged <paramref name="tag"/> and answers as the mapped endpoints do (for a host whose HTTP
    /// endpoint is not its main application: <see cref="StatusEndpoint"/>).</summary>
    public static async Task AnswerAsync(HttpContext context, HealthCheckService health, string tag)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(health);
        var report = await health.CheckHealthAsync(r => r.Tags.Contains(tag), context.RequestAborted);
        context.Response.StatusCode = report.Status == HealthStatus.Unhealthy ? StatusCodes.Status503ServiceUnavailable : StatusCodes.Status200OK;
        context.Response.Headers.CacheControl = "no-store, no-cache";
        await WriteAsync(context, report);
    }

    private sealed record StatusBody([property: System.Text.Json.Serialization.JsonPropertyName("status")] string Status);
}

using System.Text.Json.Serialization;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// Generation requests (<c>POST /v1/*</c>) before the cluster has started get 503 with an OpenAI error body and
/// <c>Retry-After</c>, instead of waiting on — or failing in — a cluster that is still forming: the gateway listens at
/// once (so <c>/health</c> and <c>/ready</c> answer during start-up) but serves only what it can. Once started, requests
/// always go through, also while <c>/ready</c> reports something missing: a check can fail for a moment, failover may heal
/// the cluster, and a request the cluster cannot serve still gets its own 503.
/// </summary>
public static class ReadinessGate
{
    public static IApplicationBuilder UseReadinessGate(this IApplicationBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        var readiness = app.ApplicationServices.GetRequiredService<ClusterReadiness>();
        return app.Use(async (context, next) =>
        {
            if (readiness.HasStarted || !HttpMethods.IsPost(context.Request.Method) || !context.Request.Path.StartsWithSegments("/v1"))
            {
                await next(context);
                return;
            }
            var snapshot = readiness.Snapshot();
            string message = snapshot.Status == ReadinessSnapshot.Failed
                ? $"the model cannot be served: {snapshot.Detail}"
                : $"the model is still loading ({snapshot.AttentionRanksLoaded} of {snapshot.AttentionRanks} attention ranks and " +
                  $"{snapshot.ExpertShardsLoaded} of {snapshot.ExpertShards} expert shards loaded); retry shortly or wait for GET /ready";
            context.Response.Headers.RetryAfter = "1";
            await Results.Json(new ErrorBody(new Error(message, "service_unavailable", null, "model_not_ready")),
                statusCode: StatusCodes.Status503ServiceUnavailable).ExecuteAsync(context);
        });
    }

    private sealed record ErrorBody([property: JsonPropertyName("error")] Error Error);

    private sealed record Error(
        [property: JsonPropertyName("message")] string Message,
        [property: JsonPropertyName("type")] string Type,
        [property: JsonPropertyName("param")] string? Param,
        [property: JsonPropertyName("code")] string? Code);
}

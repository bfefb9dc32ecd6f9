using Llama4Cluster.ServiceDefaults;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// <c>GET /ready</c>'s check: the cluster's <see cref="ReadinessSnapshot"/> (healthy when ready, unhealthy otherwise), which is
/// also the endpoint's body. The periodic checks keep the snapshot current; if they have fallen behind, it checks now rather
/// than answer from the past (<see cref="ClusterHealthCheck.EnsureFreshAsync"/>).
/// </summary>
public sealed class ClusterReadinessHealthCheck(ClusterReadiness readiness, ClusterHealthCheck check) : IHealthCheck
{
    public const string Name = "cluster";

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await check.EnsureFreshAsync(cancellationToken);
        var snapshot = readiness.Snapshot();
        var data = new Dictionary<string, object> { [HealthResponses.BodyKey] = snapshot };
        return snapshot.IsReady
            ? HealthCheckResult.Healthy(snapshot.Status, data)
            : HealthCheckResult.Unhealthy(snapshot.Detail ?? snapshot.Status, data: data);
    }
}

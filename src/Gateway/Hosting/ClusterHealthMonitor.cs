using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// Keeps <c>GET /ready</c> current once the cluster has started: a <see cref="ClusterHealthCheck"/> every
/// <see cref="ReadinessOptions.Interval"/> after the previous one ended, until the host stops. Before start-up ends ready
/// (<see cref="ClusterReadiness.WhenStarted"/>) the warm-up owns readiness and this waits.
/// </summary>
public sealed partial class ClusterHealthMonitor(
    ClusterHealthCheck check, ClusterReadiness readiness, IOptions<ReadinessOptions> options, ILogger<ClusterHealthMonitor> logger,
    TimeProvider? time = null)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await readiness.WhenStarted.WaitAsync(stoppingToken);
            while (!stoppingToken.IsCancellationRequested)
            {
                try
                {
                    await check.CheckAsync(stoppingToken);
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    LogCheckFailed(e);
                }
                await Task.Delay(options.Value.Interval, time ?? TimeProvider.System, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A readiness check failed to run; the next one follows")]
    private partial void LogCheckFailed(Exception error);
}

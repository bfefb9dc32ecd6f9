using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Scheduling;
using Llama4Cluster.Gateway.Model;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// Brings the cluster to ready once the host has started (the co-hosted silo is up, or the Orleans client has connected):
/// asks every rank and every (MoE layer, shard) to answer through the <see cref="IClusterProbe"/> (the grains'
/// <c>DescribeAsync</c>), all at once — each call places and activates its grain, which loads its weights — and records
/// each answer in <see cref="ClusterReadiness"/>. Orleans' errors while the cluster forms (no compatible silo yet, a silo
/// gone, a timeout) are retried with backoff; any other error (a grain that cannot load) is retried
/// <see cref="PermanentAttempts"/> times and then marks the gateway failed with that error. Once ready, the
/// <see cref="ClusterHealthMonitor"/> keeps checking.
/// </summary>
public sealed partial class ClusterWarmupService(
    IClusterProbe probe, ClusterReadiness readiness, IHostApplicationLifetime lifetime, ILogger<ClusterWarmupService> logger,
    IOptions<ReadinessOptions>? options = null, IStepBackend? backend = null, ServedModel? model = null)
    : BackgroundService
{
    public const int PermanentAttempts = 3;
    private static readonly TimeSpan FirstDelay = TimeSpan.FromMilliseconds(200), MaxDelay = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!await StartedAsync(stoppingToken)) return;
        LogWarmingUp(readiness.AttentionRanks, readiness.Shards.Count);
        var watch = System.Diagnostics.Stopwatch.StartNew();
        var delay = FirstDelay;
        int failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            readiness.Waiting("loading attention ranks and expert shards");
            var calls = new List<Task>();
            for (int r = 0; r < readiness.AttentionRanks; r++)
            {
                int rank = r;
                if (!readiness.IsRankLoaded(rank))
                    calls.Add(CallAsync(() => probe.ProbeRankAsync(rank), () => readiness.RankLoaded(rank), stoppingToken));
            }
            foreach (var key in readiness.Shards)
            {
                if (!readiness.IsShardLoaded(key))
                    calls.Add(CallAsync(() => probe.ProbeShardAsync(key), () => readiness.ShardLoaded(key), stoppingToken));
            }
            var all = Task.WhenAll(calls);
            try
            {
                await all;
                LogLoaded(readiness.AttentionRanks, readiness.Shards.Count, watch.Elapsed.TotalSeconds);
                await WarmUpGenerationAsync(stoppingToken);
                readiness.Ready();
                LogReady(readiness.AttentionRanks, readiness.Shards.Count, watch.Elapsed.TotalSeconds);
                return;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception thrown)
            {
                var errors = all.Exception?.InnerExceptions ?? [thrown];
                var error = errors.FirstOrDefault(e => !IsForming(e)) ?? errors[0];
                string message = Describe(error);
                if (IsForming(error))
                {
                    readiness.Waiting("waiting for the cluster: " + message);
                    LogForming(message);
                }
                else if (++failures >= PermanentAttempts)
                {
                    readiness.Failed(message);
                    LogFailed(error, message);
                    return;
                }
                else
                {
                    readiness.Waiting($"attempt {failures} of {PermanentAttempts} failed: {message}");
                    LogRetrying(failures, PermanentAttempts, message);
                }
            }
            try
            {
                await Task.Delay(delay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(MaxDelay.Ticks, delay.Ticks * 2));
        }
    }

    /// <summary>
    /// The compile warm-up (<see cref="ReadinessOptions.WarmUpGeneration"/>): one throwaway sequence per rank straight through
    /// the step backend (no scheduler, so no request or token is counted), before any client's request can arrive. Cancelled
    /// with the host; any other failure is logged and left to the health checks that follow.
    /// </summary>
    private async Task WarmUpGenerationAsync(CancellationToken stoppingToken)
    {
        if (backend is null || model is null || options?.Value.WarmUpGeneration == false) return;
        readiness.Waiting("compiling the step path: one throwaway sequence per attention rank");
        var watch = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            int sequences = await WarmUpRequests.RunAsync(backend, model.Limits, maxStepTokens: 8192, stoppingToken);
            LogWarmedUp(sequences, watch.Elapsed.TotalSeconds);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogWarmUpFailed(e.Message);
        }
    }

    /// <summary>Orleans' own errors while membership and placement settle: worth waiting for.</summary>
    internal static bool IsForming(Exception e) => e switch
    {
        // A grain's own activation error may arrive wrapped; what the grain threw decides.
        OrleansException { InnerException: { } inner } when inner is not OrleansException and not TimeoutException => false,
        OrleansException or TimeoutException => true,
        _ => false,
    };

    private static string Describe(Exception e) => e is OrleansException { InnerException: { } inner } && !IsForming(e)
        ? $"{inner.GetType().Name}: {inner.Message}"
        : $"{e.GetType().Name}: {e.Message}";

    private static async Task CallAsync(Func<Task> call, Action loaded, CancellationToken cancellationToken)
    {
        await call().WaitAsync(cancellationToken);
        loaded();
    }

    /// <summary>Waits for the host to finish starting (every hosted service: the silo, or the client's connection).</summary>
    private async Task<bool> StartedAsync(CancellationToken stoppingToken)
    {
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStarted = lifetime.ApplicationStarted.Register(() => started.TrySetResult());
        using var onStopping = stoppingToken.Register(() => started.TrySetCanceled(stoppingToken));
        try
        {
            await started.Task;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Loading the cluster: {Ranks} attention rank(s), {Shards} expert shard(s)")]
    private partial void LogWarmingUp(int ranks, int shards);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ready: {Ranks} attention rank(s) and {Shards} expert shard(s) placed and loaded in {Seconds:F1} s")]
    private partial void LogReady(int ranks, int shards, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Loaded: {Ranks} attention rank(s) and {Shards} expert shard(s) in {Seconds:F1} s")]
    private partial void LogLoaded(int ranks, int shards, double seconds);

    [LoggerMessage(Level = LogLevel.Information, Message = "Warmed up: {Sequences} throwaway sequence(s) through the cluster in {Seconds:F2} s")]
    private partial void LogWarmedUp(int sequences, double seconds);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The warm-up generation failed; serving anyway (the health checks decide readiness from here): {Message}")]
    private partial void LogWarmUpFailed(string message);

    [LoggerMessage(Level = LogLevel.Information, Message = "Waiting for the cluster: {Message}")]
    private partial void LogForming(string message);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Loading the cluster failed (attempt {Attempt} of {Attempts}), retrying: {Message}")]
    private partial void LogRetrying(int attempt, int attempts, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "The cluster cannot be loaded; /ready reports the error: {Message}")]
    private partial void LogFailed(Exception error, string message);
}

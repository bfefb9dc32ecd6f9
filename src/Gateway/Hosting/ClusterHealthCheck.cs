using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.Gateway.Scheduling;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>
/// One readiness check after start-up: asks every attention rank and expert shard at once through the
/// <see cref="IClusterProbe"/>, each bounded by <see cref="ReadinessOptions.Timeout"/>, and records the result in
/// <see cref="ClusterReadiness"/>. A rank that does not answer in time but answered a step within
/// <see cref="ReadinessOptions.BusyGrace"/> counts as busy, not missing (<see cref="RankActivity"/>). Checks asked for while
/// one runs join it, so <see cref="ClusterHealthMonitor"/> and <c>GET /ready</c> never run two at once.
/// </summary>
public sealed partial class ClusterHealthCheck(
    IClusterProbe probe,
    ClusterReadiness readiness,
    IOptions<ReadinessOptions> options,
    ILogger<ClusterHealthCheck> logger,
    RankActivity? activity = null,
    TimeProvider? time = null)
{
    private readonly object _gate = new();
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private Task<ClusterCheckResult>? _running;

    private ReadinessOptions Options => options.Value;

    /// <summary>Runs a check now, or joins the one running; the result is already recorded when this completes.</summary>
    public Task<ClusterCheckResult> CheckAsync(CancellationToken cancellationToken = default)
    {
        Task<ClusterCheckResult> running;
        lock (_gate)
        {
            running = _running ??= RunAsync();
        }
        return running.WaitAsync(cancellationToken);
    }

    /// <summary>
    /// For <c>GET /ready</c>: after start-up, runs a check when the last one ended longer ago than
    /// <see cref="ReadinessOptions.StaleAfter"/> (the periodic checks have stalled or are slow), so the answer is never older.
    /// </summary>
    public async Task EnsureFreshAsync(CancellationToken cancellationToken = default)
    {
        if (!readiness.HasStarted) return;
        if (readiness.LastCheck is { } last && _time.GetUtcNow() - last <= Options.StaleAfter) return;
        await CheckAsync(cancellationToken);
    }

    private async Task<ClusterCheckResult> RunAsync()
    {
        try
        {
            // Off the caller's stack: the lock above must not run the probes.
            await Task.Yield();
            var timeout = Options.Timeout;
            var ranks = Enumerable.Range(0, readiness.AttentionRanks)
                .Select(rank => (rank, task: AskAsync(() => probe.ProbeRankAsync(rank), timeout))).ToList();
            var shards = readiness.Shards.Select(key => (key, task: AskAsync(() => probe.ProbeShardAsync(key), timeout))).ToList();
            await Task.WhenAll(ranks.Select(r => r.task).Concat(shards.Select(s => s.task)));

            var missingRanks = new Dictionary<int, string>();
            foreach (var (rank, task) in ranks)
            {
                if (task.Result is { } reason && activity?.SucceededWithin(rank, Options.BusyGrace) != true) missingRanks[rank] = reason;
            }
            var missingShards = new Dictionary<ExpertShardKey, string>();
            foreach (var (key, task) in shards)
            {
                if (task.Result is { } reason) missingShards[key] = reason;
            }
            var result = new ClusterCheckResult(missingRanks, missingShards, _time.GetUtcNow());
            if (readiness.Checked(result)) Report(result);
            return result;
        }
        finally
        {
            lock (_gate) _running = null;
        }
    }

    /// <summary>Null when the grain answered within <paramref name="timeout"/>; otherwise why not.</summary>
    private async Task<string?> AskAsync(Func<Task> ask, TimeSpan timeout)
    {
        try
        {
            await ask().WaitAsync(timeout, _time);
            return null;
        }
        catch (TimeoutException)
        {
            return $"no answer within {timeout.TotalSeconds:0.###} s";
        }
        catch (Exception e)
        {
            return e is OrleansException { InnerException: { } inner } ? $"{inner.GetType().Name}: {inner.Message}" : $"{e.GetType().Name}: {e.Message}";
        }
    }

    private void Report(ClusterCheckResult result)
    {
        if (result.AllAnswered) LogAnswering(readiness.AttentionRanks, readiness.Shards.Count);
        else LogMissing(result.MissingRanks.Count + result.MissingShards.Count, result.Describe());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Not ready: {Count} attention rank(s) or expert shard(s) do not answer: {Reasons}")]
    private partial void LogMissing(int count, string reasons);

    [LoggerMessage(Level = LogLevel.Information, Message = "Ready again: all {Ranks} attention rank(s) and {Shards} expert shard(s) answer")]
    private partial void LogAnswering(int ranks, int shards);
}

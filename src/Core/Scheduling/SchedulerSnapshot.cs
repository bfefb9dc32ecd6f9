namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// The scheduler's state at one moment.
/// </summary>
/// <param name="Running">Sequences in the running batch (prefilling or decoding).</param>
/// <param name="Waiting">Sequences queued, not yet admitted.</param>
/// <param name="KvTokens">Tokens held in the attention ranks' KV caches by running sequences.</param>
/// <param name="KvTokenCapacity">Tokens the scheduler admits into KV caches at most (its KV budget).</param>
/// <param name="Steps">Engine steps run since start.</param>
/// <param name="Failovers">Sequences moved to another rank after their rank failed, since start.</param>
/// <param name="ReprefilledTokens">Tokens fed again by those moves.</param>
/// <param name="FailedRankSteps">Rank steps that failed, since start.</param>
/// <param name="RanksUp">Attention ranks taking sequences now, of <paramref name="Ranks"/>.</param>
/// <param name="Ranks">Attention ranks of the cluster.</param>
public sealed record SchedulerSnapshot(int Running, int Waiting, long KvTokens, long KvTokenCapacity, long Steps,
    long Failovers = 0, long ReprefilledTokens = 0, long FailedRankSteps = 0, int RanksUp = 0, int Ranks = 0)
{
    /// <summary>KV use in [0, 1] (vLLM's <c>kv_cache_usage_perc</c>).</summary>
    public double KvUsage => KvTokenCapacity <= 0 ? 0 : Math.Min(1.0, (double)KvTokens / KvTokenCapacity);
}

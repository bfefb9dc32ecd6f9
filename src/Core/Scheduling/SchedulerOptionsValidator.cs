using Microsoft.Extensions.Options;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>Checks <see cref="SchedulerOptions"/>; each message says how to fix the setting.</summary>
public sealed class SchedulerOptionsValidator : IValidateOptions<SchedulerOptions>
{
    public ValidateOptionsResult Validate(string? name, SchedulerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = Problems(options, maxModelLength: null).ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>
    /// Every problem of <paramref name="options"/>; with <paramref name="maxModelLength"/>, also a KV budget too small
    /// for one sequence of the model's max length.
    /// </summary>
    internal static IEnumerable<string> Problems(SchedulerOptions options, int? maxModelLength)
    {
        if (options.MaxRunningSequences < 1)
            yield return $"MaxRunningSequences must be at least 1; got {options.MaxRunningSequences}.";
        if (options.MaxWaitingRequests < 1)
            yield return $"MaxWaitingRequests must be at least 1 (requests wait in the queue before their first step); got {options.MaxWaitingRequests}.";
        if (options.MaxStepTokens < Math.Max(1, options.MaxRunningSequences))
            yield return $"MaxStepTokens ({options.MaxStepTokens}) must be at least MaxRunningSequences ({options.MaxRunningSequences}) so every " +
                "running sequence can decode in every step; raise MaxStepTokens or lower MaxRunningSequences.";
        if (options.MaxStepImageTiles < 1)
            yield return $"MaxStepImageTiles must be at least 1; got {options.MaxStepImageTiles}.";
        if (options.KvTokenCapacity is { } kv && kv < 1)
            yield return $"KvTokenCapacity must be at least 1 token, or unset for the default; got {kv}.";
        if (options.KvTokenCapacity is { } capacity && maxModelLength is { } length && capacity < length)
            yield return $"KvTokenCapacity ({capacity}) is below the model's max length ({length}): a request of the full context could never " +
                "be admitted; raise KvTokenCapacity or lower the max model length.";
        if (options.DefaultTimeout <= TimeSpan.Zero && options.DefaultTimeout != Timeout.InfiniteTimeSpan)
            yield return $"DefaultTimeout must be positive, or Timeout.InfiniteTimeSpan for none; got {options.DefaultTimeout}.";
        if (options.RetryAfter < TimeSpan.Zero)
            yield return $"RetryAfter must not be negative; got {options.RetryAfter}.";
        if (options.MaxFailovers is < 0 or > 100)
            yield return $"MaxFailovers must be between 0 and 100 (moves of a sequence to another rank after its rank failed); got {options.MaxFailovers}.";
        if (options.PrefixBlockSize < 1)
            yield return $"PrefixBlockSize must be at least 1 token (set it to the ranks' Llama4:PrefixCacheBlockSize); got {options.PrefixBlockSize}.";
        if (options.PrefixRoutingMaxImbalance < 0)
            yield return $"PrefixRoutingMaxImbalance must not be negative (0: prefix matches only break load ties); got {options.PrefixRoutingMaxImbalance}.";
        if (options.PrefixRoutingBlocksPerRank < 1)
            yield return $"PrefixRoutingBlocksPerRank must be at least 1; got {options.PrefixRoutingBlocksPerRank}.";
        if (options.RankProbeTimeout <= TimeSpan.Zero)
            yield return $"RankProbeTimeout must be positive; got {options.RankProbeTimeout}.";
        if (options.RankProbePause <= TimeSpan.Zero || options.RankProbeMaxPause < options.RankProbePause)
            yield return $"RankProbePause must be positive and at most RankProbeMaxPause; got {options.RankProbePause} and {options.RankProbeMaxPause}.";
    }
}

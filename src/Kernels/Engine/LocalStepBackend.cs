using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Kernels.Engine;

/// <summary>
/// <see cref="IStepBackend"/> in one process: a single attention rank, an <see cref="AttentionRankCore"/> over a model
/// whose experts are all local. The scheduler's step loop runs here exactly as it runs over the cluster's grains. Steps
/// and releases take turns, as an Orleans grain's calls do (the scheduler may send a release while a step runs).
/// </summary>
public sealed class LocalStepBackend(AttentionRankCore core) : IStepBackend, IDisposable
{
    private readonly SemaphoreSlim _turn = new(1, 1);

    public AttentionRankCore Core { get; } = core ?? throw new ArgumentNullException(nameof(core));

    public int Ranks => 1;

    public async Task<RankStepResult> StepAsync(int rank, RankStep step, CancellationToken cancellationToken)
    {
        CheckRank(rank);
        await _turn.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await Core.StepAsync(step, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _turn.Release();
        }
    }

    /// <summary>The rank lives in this process: it answers whenever the process does.</summary>
    public Task ProbeAsync(int rank, CancellationToken cancellationToken)
    {
        CheckRank(rank);
        return Task.CompletedTask;
    }

    public async Task ReleaseAsync(int rank, IReadOnlyList<long> sequenceIds)
    {
        CheckRank(rank);
        await _turn.WaitAsync().ConfigureAwait(false);
        try
        {
            Core.Release(sequenceIds);
        }
        finally
        {
            _turn.Release();
        }
    }

    public void Dispose() => _turn.Dispose();

    private static void CheckRank(int rank)
    {
        if (rank != 0) throw new ArgumentOutOfRangeException(nameof(rank), rank, "a local engine has one attention rank, 0");
    }
}

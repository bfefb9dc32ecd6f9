using Llama4Cluster.Core.Scheduling;

namespace Llama4Cluster.Gateway.Scheduling;

/// <summary>An <see cref="IStepBackend"/> that records each rank's successful steps in a <see cref="RankActivity"/> and
/// otherwise passes every call through unchanged.</summary>
public sealed class ActivityRecordingStepBackend(IStepBackend inner, RankActivity activity) : IStepBackend
{
    public int Ranks => inner.Ranks;

    public async Task<RankStepResult> StepAsync(int rank, RankStep step, CancellationToken cancellationToken)
    {
        var result = await inner.StepAsync(rank, step, cancellationToken);
        activity.Succeeded(rank);
        return result;
    }

    public Task ReleaseAsync(int rank, IReadOnlyList<long> sequenceIds) => inner.ReleaseAsync(rank, sequenceIds);

    public Task ProbeAsync(int rank, CancellationToken cancellationToken) => inner.ProbeAsync(rank, cancellationToken);
}

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// What one engine step of <see cref="ContinuousBatchScheduler"/> did (its <see cref="ContinuousBatchScheduler.StepCompleted"/>
/// event): for tests and diagnostics.
/// </summary>
/// <param name="Step">The step's number (the <see cref="RankStep.Step"/> every rank received).</param>
/// <param name="Ranks">Attention ranks called.</param>
/// <param name="Sequences">Sequences in the step.</param>
/// <param name="PrefillTokens">Prompt tokens fed (chunks of prefilling sequences).</param>
/// <param name="DecodeTokens">Generated tokens fed (one per decoding sequence).</param>
/// <param name="Admitted">Sequences admitted from the queue just before this step.</param>
/// <param name="Finished">Sequences that ended normally with this step's samples.</param>
/// <param name="Failed">Sequences failed by their rank's error in this step.</param>
/// <param name="Running">Sequences running after the step.</param>
/// <param name="Waiting">Sequences waiting after the step.</param>
/// <param name="Duration">From building the step to its last rank's answer.</param>
public sealed record SchedulerStepInfo(
    long Step,
    int Ranks,
    int Sequences,
    int PrefillTokens,
    int DecodeTokens,
    int Admitted,
    int Finished,
    int Failed,
    int Running,
    int Waiting,
    TimeSpan Duration);

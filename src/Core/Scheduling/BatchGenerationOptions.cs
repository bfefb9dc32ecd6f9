namespace Llama4Cluster.Core.Scheduling;

/// <summary>How <see cref="BatchGeneration"/> runs a batch through the scheduler.</summary>
public sealed record BatchGenerationOptions
{
    /// <summary>Tokens fed in one step at most (raised to the batch size, so every sequence can decode in every step).</summary>
    public int MaxStepTokens { get; init; } = 512;

    /// <summary><see cref="SchedulerOptions.PrefillFirst"/>: every prompt is in its cache before the first decode step.</summary>
    public bool PrefillFirst { get; init; }

    /// <summary>Called on the step loop after each step (<see cref="ContinuousBatchScheduler.StepCompleted"/>); keep it quick.</summary>
    public Action<SchedulerStepInfo>? StepCompleted { get; init; }
}

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// The gateway's step loop as the HTTP layer sees it: sequences are submitted, join the running batch at a later
/// engine step (iteration-level continuous batching), and stream their sampled tokens back through their
/// <see cref="SequenceHandle"/>. Thread-safe.
/// </summary>
public interface IGenerationScheduler
{
    /// <summary>
    /// Queues one sequence. Returns at once; its tokens arrive on <see cref="SequenceHandle.Events"/>.
    /// </summary>
    /// <exception cref="SchedulerQueueFullException">The waiting queue is full (the HTTP layer answers 429).</exception>
    /// <exception cref="ArgumentException">The submission is invalid (empty prompt, bad sampling parameters,
    /// prompt + max tokens beyond the context); the message names the problem (the HTTP layer answers 400).</exception>
    SequenceHandle Submit(SequenceSubmission submission);

    /// <summary>What the scheduler holds now: running and waiting sequences, KV use (for /metrics).</summary>
    SchedulerSnapshot Snapshot();
}

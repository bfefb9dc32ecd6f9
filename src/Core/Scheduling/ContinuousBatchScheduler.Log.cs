using Llama4Cluster.Core.Generation;
using Microsoft.Extensions.Logging;

namespace Llama4Cluster.Core.Scheduling;

public sealed partial class ContinuousBatchScheduler
{
    private void LogDropped(long id, Exception reason, bool running)
    {
        if (reason is TimeoutException) LogTimedOut(id, running);
        else LogCancelled(id, running);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler started: {Ranks} attention ranks, at most {MaxRunning} running sequences, {MaxStepTokens} tokens per step, KV budget {KvCapacity} tokens")]
    private partial void LogStarted(int ranks, int maxRunning, int maxStepTokens, long kvCapacity);

    [LoggerMessage(Level = LogLevel.Information, Message = "Scheduler stopped after {Steps} steps; unfinished sequences were cancelled")]
    private partial void LogStopped(long steps);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Sequence {Id} admitted on attention rank {Rank}: {PromptTokens} prompt tokens, up to {MaxTokens} new tokens")]
    private partial void LogAdmitted(long id, int rank, int promptTokens, int maxTokens);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Sequence {Id} finished ({Reason}) after {Tokens} tokens")]
    private partial void LogFinished(long id, FinishReason reason, int tokens);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Sequence {Id} cancelled (running: {Running}); its capacity is freed")]
    private partial void LogCancelled(long id, bool running);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sequence {Id} timed out (running: {Running}); its capacity is freed")]
    private partial void LogTimedOut(long id, bool running);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Waiting queue full ({Waiting} requests); a request was refused")]
    private partial void LogQueueFull(int waiting);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention rank {Rank} failed step {Step} ({Sequences} sequences in it); its sequences move to ranks that are up and are re-prefilled there")]
    private partial void LogRankStepFailed(Exception exception, int rank, long step, int sequences);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Attention rank {Rank} could not release {Count} ended sequences")]
    private partial void LogReleaseFailed(Exception exception, int rank, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "Scheduler iteration after step {Step} failed; its running sequences were failed, serving goes on")]
    private partial void LogIterationFailed(Exception exception, long step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A StepCompleted handler threw after step {Step}")]
    private partial void LogObserverFailed(Exception exception, long step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Id} moves off failed attention rank {Rank} (move {Failovers}): {Tokens} tokens are re-prefilled on another rank")]
    private partial void LogFailedOver(long id, int rank, int failovers, int tokens);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sequence {Id} resumes on attention rank {Rank}: prompt of {PromptTokens} tokens and {Generated} generated tokens re-prefilled")]
    private partial void LogResumed(long id, int rank, int promptTokens, int generated);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sequence {Id} failed on attention rank {Rank} in step {Step}: {Error}; the other sequences go on")]
    private partial void LogSequenceFailed(long id, int rank, long step, string error);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Attention rank {Rank} does not answer yet; it stays out of rotation")]
    private partial void LogProbeFailed(Exception exception, int rank);
}

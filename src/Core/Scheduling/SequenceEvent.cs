using Llama4Cluster.Core.Generation;
using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>What a <see cref="SequenceHandle"/> reports, in order: tokens, then exactly one end event.</summary>
public abstract record SequenceEvent;

/// <summary>One sampled token (never a stop token), with its logprobs when the submission asked for them.</summary>
public sealed record TokenEvent(SampledToken Token) : SequenceEvent;

/// <summary>
/// The sequence ended normally: <see cref="FinishReason.Stop"/> (a stop or EOS token, given in
/// <paramref name="StopTokenId"/>, not emitted) or <see cref="FinishReason.Length"/> (max tokens reached).
/// </summary>
public sealed record FinishedEvent(FinishReason Reason, int? StopTokenId) : SequenceEvent;

/// <summary>
/// The sequence ended abnormally: cancelled by its caller, timed out, or failed in the cluster. The error says which
/// (<see cref="OperationCanceledException"/>, <see cref="TimeoutException"/>, or the cluster's exception).
/// </summary>
public sealed record FailedEvent(Exception Error) : SequenceEvent;

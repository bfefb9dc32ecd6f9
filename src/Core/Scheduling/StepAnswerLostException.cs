namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// A rank step's answer was lost on the way back although the rank itself is believed alive (in the cluster: another
/// silo, through which the answer was routed, died). The scheduler moves the step's sequences as for any failed step —
/// re-prefilled under fresh ids, so whatever the rank did with the lost step cannot interfere — but keeps the rank in
/// rotation, so they may resume on it at once.
/// </summary>
public class StepAnswerLostException(string message) : Exception(message);

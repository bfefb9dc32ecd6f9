namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// One sequence's part of a rank step: its new tokens (a prompt chunk, or the last sampled token), appended to its KV
/// cache in order.
/// </summary>
/// <param name="SequenceId">The scheduler's id of the sequence; the rank keys its cache and sampler by it.</param>
/// <param name="Tokens">At least one token.</param>
/// <param name="Start">Set on the sequence's first step only: the rank creates its cache and sampler. Tokens fed before
/// the first sample are the prompt (the penalties' history distinguishes prompt and output).</param>
/// <param name="Sample">Sample a token from the last position's logits (the prompt's last chunk, and every decode).</param>
/// <param name="ReturnLogits">Return the fp32 logits of every position fed (exactness checks).</param>
public sealed record SequenceWork(long SequenceId, ReadOnlyMemory<int> Tokens, SequenceSettings? Start, bool Sample, bool ReturnLogits = false);

using Llama4Cluster.Core.Sampling;

namespace Llama4Cluster.Core.Scheduling;

/// <summary>
/// What an attention rank needs to start a sequence: how to sample it and which ids end it (the sampler's stop set is
/// <see cref="SamplingParams.StopTokenIds"/> plus these unless <see cref="SamplingParams.IgnoreEos"/>).
/// </summary>
public sealed record SequenceSettings(SamplingParams Sampling, IReadOnlyList<int> EosTokenIds);

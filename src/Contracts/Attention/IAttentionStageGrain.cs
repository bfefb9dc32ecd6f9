using System.Collections.Immutable;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>
/// A later pipeline stage of a staged attention rank (key <c>attention/{rank}/{stage}</c>, stage ≥ 1; stage 0 is the rank's
/// <see cref="IAttentionGrain"/>). Holds its layer range's non-expert weights and its sequences' KV caches for those
/// layers, dispatches its MoE layers' routed experts itself, and takes one <see cref="PassAsync"/> per forward pass from
/// the stage before it; the last stage samples. Its state is a cache like the rank's.
/// </summary>
[Alias("l4c.IAttentionStageGrain")]
public interface IAttentionStageGrain : IGrainWithStringKey
{
    /// <summary>Runs the pass on this stage and the later ones; the answer is the last stage's samples (and logits, for tests).</summary>
    [Alias("Pass")]
    Task<StepResponse> PassAsync(StagePassRequest request, CancellationToken cancellationToken = default);

    /// <summary>Drops ended sequences here and on the later stages. Unknown ids are ignored.</summary>
    [Alias("Release")]
    Task ReleaseAsync(ImmutableArray<long> sequenceIds);

    /// <summary>Activates the stage (loading its weights if not yet loaded) and describes it.</summary>
    [Alias("Describe")]
    Task<AttentionRankInfo> DescribeAsync();
}

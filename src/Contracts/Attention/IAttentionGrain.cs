using System.Collections.Immutable;

namespace Llama4Cluster.Contracts.Attention;

/// <summary>
/// An attention rank (key: rank index). Holds every non-expert weight and the KV caches of the sequences
/// assigned to it; one <see cref="StepAsync"/> per engine step runs every layer for its batch, reaching the
/// routed experts through the expert shard grains. Its state is a cache: the caller owns each sequence's
/// tokens and can rebuild it by prefilling again.
/// </summary>
[Alias("l4c.IAttentionGrain")]
public interface IAttentionGrain : IGrainWithIntegerKey
{
    [Alias("Step")]
    Task<StepResponse> StepAsync(StepRequest request, CancellationToken cancellationToken = default);

    /// <summary>Drops the KV caches and samplers of finished sequences. Unknown ids are ignored.</summary>
    [Alias("Release")]
    Task ReleaseAsync(ImmutableArray<long> sequenceIds);

    /// <summary>Activates the rank (loading its weights if not yet loaded) and describes it.</summary>
    [Alias("Describe")]
    Task<AttentionRankInfo> DescribeAsync();
}

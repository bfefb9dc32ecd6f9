namespace Llama4Cluster.Contracts.Experts;

/// <summary>
/// The routed experts of one MoE layer that one shard owns (key: <see cref="ExpertShardKey"/>). Long-lived:
/// it loads its experts' weights once, on activation, and keeps them.
/// </summary>
[Alias("l4c.IExpertShardGrain")]
public interface IExpertShardGrain : IGrainWithStringKey
{
    /// <summary>
    /// Runs the grouped SwiGLU over every row sent by one attention rank for one MoE layer, for all of this
    /// shard's experts, in one call; returns the outputs row-aligned with the inputs, in the request's wire dtype.
    /// </summary>
    [Alias("Compute")]
    Task<ExpertShardResponse> ComputeAsync(ExpertShardRequest request, CancellationToken cancellationToken = default);

    /// <summary>
    /// The data-plane endpoint of the silo hosting this shard (activating it if needed): with the TCP data plane,
    /// dispatches go there directly and Orleans only resolves where the shard lives.
    /// </summary>
    [Alias("GetDataEndpoint")]
    Task<DataEndpoint> GetDataEndpointAsync();

    /// <summary>Activates the shard (loading its weights if not yet loaded) and describes what it holds.</summary>
    [Alias("Describe")]
    Task<ExpertShardInfo> DescribeAsync();
}

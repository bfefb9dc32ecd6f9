namespace Llama4Cluster.Silos.Experts;

/// <summary>
/// An expert shard did not answer a dispatch within the configured bound; the step fails. Serializable, so the
/// engine's caller receives it (message, layer and shard) across the grain boundary. It carries no inner exception:
/// Polly's <c>TimeoutRejectedException</c> has no Orleans codec, and the message says everything it did.
/// </summary>
[GenerateSerializer, Alias("l4c.ExpertShardTimeoutException")]
public sealed class ExpertShardTimeoutException : TimeoutException
{
    public ExpertShardTimeoutException(int layer, int shard, TimeSpan timeout, string? lastError = null)
        : base($"MoE layer {layer}: expert shard {shard} (grain '{layer}/{shard}') did not answer within {timeout.TotalSeconds:0.###} s; " +
               "the step failed. Check that the silo hosting the shard is alive and not overloaded " +
               "(Llama4:ShardTimeout sets the bound)." + (lastError is null ? "" : $" Last error: {lastError}"))
    {
        Layer = layer;
        Shard = shard;
        Timeout = timeout;
    }

    [Id(0)] public int Layer { get; }

    [Id(1)] public int Shard { get; }

    [Id(2)] public TimeSpan Timeout { get; }
}

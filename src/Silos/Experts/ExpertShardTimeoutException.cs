namespace Llama4Cluster.Silos.Experts;

/// <summary>An expert shard did not answer a dispatch within the configured bound; the step fails.</summary>
public sealed class ExpertShardTimeoutException : TimeoutException
{
    public ExpertShardTimeoutException(int layer, int shard, TimeSpan timeout, Exception? inner = null)
        : base($"MoE layer {layer}: expert shard {shard} (grain '{layer}/{shard}') did not answer within {timeout.TotalSeconds:0.###} s; " +
               "the step failed. Check that the silo hosting the shard is alive and not overloaded " +
               "(Llama4:ShardTimeout sets the bound).", inner)
    {
        Layer = layer;
        Shard = shard;
        Timeout = timeout;
    }

    public int Layer { get; }

    public int Shard { get; }

    public TimeSpan Timeout { get; }
}

namespace Llama4Cluster.Cluster.Hosting;

/// <summary>What carries expert activations between attention ranks and expert shards (<c>--data-plane</c>).</summary>
public enum DataPlaneKind
{
    /// <summary>The silo-to-silo socket data plane: Orleans resolves where each shard lives, activations flow over persistent sockets.</summary>
    Tcp,

    /// <summary>One Orleans grain call per shard.</summary>
    Orleans,
}

using Llama4Cluster.Cluster.Placement;

namespace Llama4Cluster.Silos.Placement;

/// <summary>
/// What every Llama 4 silo advertises through Orleans' silo metadata (gossiped with membership, readable on every silo
/// through <c>ISiloMetadataCache</c>): its role, device, compute dtype and name. The placement director reads the role.
/// </summary>
public static class SiloMetadataKeys
{
    /// <summary><c>expert</c>, <c>attention</c> or <c>all</c> (<c>--role</c>).</summary>
    public const string Role = "llama4.role";

    /// <summary>The torch device of the silo's grains: <c>cpu</c> or <c>cuda:N</c> (<c>--device</c>).</summary>
    public const string Device = "llama4.device";

    /// <summary>The compute dtype of the silo's grains (<c>--dtype</c>).</summary>
    public const string DType = "llama4.dtype";

    /// <summary>Replicas of every expert shard (<c>--expert-replicas</c>); every silo of a cluster must advertise the same.</summary>
    public const string ExpertReplicas = "llama4.expert-replicas";

    /// <summary>Where the shared experts run, <c>rank</c> or <c>shards</c> (<c>--shared-experts</c>); every silo of a cluster must advertise the same.</summary>
    public const string SharedExperts = "llama4.shared-experts";

    /// <summary>The silo's name in a placement plan (<c>--name</c>); absent when none was given.</summary>
    public const string Name = "llama4.name";
}

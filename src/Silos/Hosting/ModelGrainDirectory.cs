using Llama4Cluster.Silos.Attention;
using Llama4Cluster.Silos.Experts;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Metadata;
using StackExchange.Redis;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>
/// Where a cluster that meets over Redis records which silo holds each attention rank and expert shard: in Redis, not in
/// Orleans' default directory. The default one is partitioned over the silos, and when a silo dies every activation
/// whose entry that silo owned is deactivated on the survivors though it is healthy — an expert silo's death would drop a
/// rank's KV caches (a re-prefill of its sequences) or a live replica. With the entries in Redis only the dead silo's own
/// grains are gone. Locations are cached on every silo, so a running cluster keeps serving while Redis is down; a grain
/// that must (re-)activate then waits for Redis.
/// </summary>
public static class ModelGrainDirectory
{
    /// <summary>The directory's name in the silo's configuration.</summary>
    public const string Name = "llama4-model-grains";

    /// <summary>Registers the Redis directory at <paramref name="redis"/> for the rank and shard grains.</summary>
    public static ISiloBuilder UseRedisDirectoryForModelGrains(this ISiloBuilder silo, string redis)
    {
        ArgumentNullException.ThrowIfNull(silo);
        silo.AddRedisGrainDirectory(Name, o => o.ConfigurationOptions = ConfigurationOptions.Parse(redis));
        silo.Services.AddSingleton<IGrainPropertiesProvider, DirectoryProperty>();
        return silo;
    }

    /// <summary>Names the directory in the grain types' properties (what a <c>[GrainDirectory]</c> attribute would, but
    /// only where the silo has the directory: clusters without Redis keep the default one).</summary>
    private sealed class DirectoryProperty : IGrainPropertiesProvider
    {
        public void Populate(Type grainClass, GrainType grainType, Dictionary<string, string> properties)
        {
            if (grainClass == typeof(AttentionGrain) || grainClass == typeof(ExpertShardGrain))
                properties[WellKnownGrainTypeProperties.GrainDirectory] = Name;
        }
    }
}

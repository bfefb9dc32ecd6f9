using Llama4Cluster.Silos.DataPlane;
using Llama4Cluster.Silos.Model;
using Llama4Cluster.Cluster.Placement;
using Llama4Cluster.Silos.Placement;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.MembershipService.SiloMetadata;

namespace Llama4Cluster.Silos.Hosting;

/// <summary>Registers the Llama 4 grains' services on a silo and sets Orleans' messaging limits deliberately.</summary>
public static class Llama4SiloHostingExtensions
{
    /// <summary>
    /// Adds <see cref="ClusterModelOptions"/> (bound from the <c>Llama4</c> section, validated at start), the silo's
    /// <see cref="SiloModelContext"/>, the expert placement director (no plan unless one is registered), and messaging options: the maximum message body size is
    /// <see cref="ClusterModelOptions.MaxMessageBytes"/> (attention steps split prefills to stay well below it) and the
    /// response timeout exceeds the shard timeout so the dispatcher's clear error, not Orleans', ends a stuck step.
    /// The silo advertises its role, device, dtype and name in Orleans' silo metadata (<see cref="SiloMetadataKeys"/>), so
    /// placement and operators see what each silo holds. Grain calls carry the caller's trace context
    /// (<c>AddActivityPropagation</c>), so one request's spans on every silo form one trace. Idempotent: a second call only applies <paramref name="configure"/>.
    /// </summary>
    public static ISiloBuilder AddLlama4Silo(this ISiloBuilder builder, Action<ClusterModelOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        var options = services.AddOptions<ClusterModelOptions>();
        if (configure is not null) options.Configure(configure);
        if (services.Any(d => d.ServiceType == typeof(SiloModelContext))) return builder;

        options.BindConfiguration(ClusterModelOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ClusterModelOptions>, ClusterModelOptionsValidator>());
        services.AddSingleton<SiloModelContext>();
        // Expert shards and attention ranks carry [ExpertPlacement]: on the planned silo when a plan is registered
        // (AddExpertPlacement(plan) or an IPlacementPlanProvider), spread over the compatible silos otherwise.
        // A plan file (Llama4:PlacementPlanFile, --plan) is checked by the options validator at start and loaded here.
        services.TryAddSingleton<IPlacementPlanProvider>(sp =>
        {
            var model = sp.GetRequiredService<IOptions<ClusterModelOptions>>().Value;
            return string.IsNullOrWhiteSpace(model.PlacementPlanFile)
                ? new NoPlacementPlanProvider()
                : new StaticPlacementPlanProvider(PlacementPlanJson.Load(model.PlacementPlanFile, Core.Config.Llama4ConfigReader.Load(model.ModelDirectory)));
        });
        services.AddOptions<SiloOptions>().Configure<IOptions<ClusterModelOptions>>((silo, model) =>
        {
            if (!string.IsNullOrWhiteSpace(model.Value.SiloName)) silo.SiloName = model.Value.SiloName;
        });
        services.AddExpertPlacement();
        services.AddSingleton<PreferredPlacement>();
        // The metadata dictionary is filled from the final options when Orleans first reads its SiloMetadata options
        // (at silo start): this Configure runs before UseSiloMetadata's own, which copies the dictionary.
        var advertised = new Dictionary<string, string>(StringComparer.Ordinal);
        services.AddOptions<SiloMetadata>().Configure<IOptions<ClusterModelOptions>>((_, model) =>
        {
            var m = model.Value;
            advertised[SiloMetadataKeys.Role] = m.Role; // checked by ClusterModelOptionsValidator at start
            advertised[SiloMetadataKeys.Device] = m.Device;
            advertised[SiloMetadataKeys.DType] = m.DType;
            advertised[SiloMetadataKeys.ExpertReplicas] = m.ExpertReplicas.ToString(System.Globalization.CultureInfo.InvariantCulture);
            advertised[SiloMetadataKeys.SharedExperts] = SharedExpertsText(m.SharedExperts);
            if (!string.IsNullOrWhiteSpace(m.SiloName)) advertised[SiloMetadataKeys.Name] = m.SiloName;
        });
        builder.UseSiloMetadata(advertised);
        builder.AddActivityPropagation();
        services.AddSingleton<ExpertShardRegistry>();
        services.AddSingleton<DataPlaneServer>();
        services.AddSingleton<DataPlaneClient>();
        // Death detection: a silo probed every second and declared dead after two missed probes (two votes), so a killed
        // silo's grains re-activate elsewhere within a few seconds (Orleans' defaults: 5 s probes, three misses). Dispatch
        // and steps do not wait for it: a reset connection takes a replica or a rank out of rotation at once.
        services.AddOptions<ClusterMembershipOptions>().Configure(membership =>
        {
            membership.ProbeTimeout = TimeSpan.FromSeconds(1);
            membership.NumMissedProbesLimit = 2;
        });
        services.AddOptions<SiloMessagingOptions>().Configure<IOptions<ClusterModelOptions>>((messaging, model) =>
        {
            messaging.MaxMessageBodySize = model.Value.MaxMessageBytes;
            messaging.ResponseTimeout = Max(messaging.ResponseTimeout, model.Value.ShardTimeout * 4);
        });
        return builder;
    }

    /// <summary>The <c>--shared-experts</c> spelling of <paramref name="placement"/>: <c>rank</c> or <c>shards</c>.</summary>
    internal static string SharedExpertsText(SharedExpertPlacement placement) => placement == SharedExpertPlacement.Shards ? "shards" : "rank";

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}

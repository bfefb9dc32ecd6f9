using Llama4Cluster.Gateway.Scheduling;
using Llama4Cluster.Contracts.Experts;
using Llama4Cluster.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Hosting;

/// <summary>Registers what <c>GET /ready</c> reports and what keeps it current.</summary>
public static class ReadinessHostingExtensions
{
    /// <summary>
    /// Registers <see cref="ClusterReadiness"/> for <paramref name="attentionRanks"/> ranks and <paramref name="shards"/>, the
    /// <see cref="ClusterWarmupService"/> (start-up) and <see cref="ClusterHealthMonitor"/> (after it), the
    /// <see cref="ClusterHealthCheck"/> both they and <c>/ready</c> use, <see cref="ReadinessOptions"/> (section
    /// <c>Gateway:Readiness</c>, validated at start), and <see cref="GrainClusterProbe"/> unless an <see cref="IClusterProbe"/>
    /// is registered already.
    /// </summary>
    public static IServiceCollection AddClusterReadiness(this IServiceCollection services, int attentionRanks, IReadOnlyList<ExpertShardKey> shards)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton(new ClusterReadiness(attentionRanks, shards));
        services.TryAddSingleton<IClusterProbe>(sp => new GrainClusterProbe(sp.GetRequiredService<IGrainFactory>(), sp.GetService<RankActivity>()));
        services.AddOptions<ReadinessOptions>().BindConfiguration(ReadinessOptions.SectionName).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<ReadinessOptions>, ReadinessOptionsValidator>());
        services.TryAddSingleton<ClusterHealthCheck>();
        services.AddHealthChecks().AddCheck<ClusterReadinessHealthCheck>(ClusterReadinessHealthCheck.Name, tags: [HealthEndpointExtensions.ReadyTag]);
        services.AddHostedService<ClusterWarmupService>();
        services.AddHostedService<ClusterHealthMonitor>();
        return services;
    }
}

using Llama4Cluster.Cluster.Hosting;
using Llama4Cluster.Gateway.Model;
using Llama4Cluster.Cluster.Stepping;
using Llama4Cluster.Core.Scheduling;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Llama4Cluster.Gateway.Scheduling;

/// <summary>Registers the gateway's scheduler and what it drives. Both methods are idempotent.</summary>
public static class SchedulerHostingExtensions
{
    /// <summary>
    /// Registers <see cref="SchedulerOptions"/> (validated at start), and <see cref="ContinuousBatchScheduler"/> as
    /// <see cref="IGenerationScheduler"/> and as a hosted service (one instance). It needs a <see cref="ServedModel"/>
    /// and an <see cref="IStepBackend"/> (e.g. <see cref="AddClusterStepBackend"/>) in the container; a
    /// <see cref="TimeProvider"/> there is used for deadlines.
    /// </summary>
    public static IServiceCollection AddGenerationScheduler(this IServiceCollection services, Action<SchedulerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<SchedulerOptions>();
        if (configure is not null) options.Configure(configure);
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SchedulerOptions>, SchedulerOptionsValidator>());
        services.TryAddSingleton(sp => new ContinuousBatchScheduler(
            sp.GetRequiredService<IStepBackend>(),
            sp.GetRequiredService<ServedModel>().Limits,
            sp.GetRequiredService<IOptions<SchedulerOptions>>(),
            sp.GetService<ILogger<ContinuousBatchScheduler>>() ?? NullLogger<ContinuousBatchScheduler>.Instance,
            sp.GetService<TimeProvider>()));
        services.TryAddSingleton<IGenerationScheduler>(sp => sp.GetRequiredService<ContinuousBatchScheduler>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ContinuousBatchScheduler>(
            sp => sp.GetRequiredService<ContinuousBatchScheduler>()));
        return services;
    }

    /// <summary>
    /// Registers <see cref="ClusterStepBackend"/> as the <see cref="IStepBackend"/>: <paramref name="attentionRanks"/> attention
    /// rank grains (keys 0 to ranks - 1) reached through the container's <see cref="IGrainFactory"/>.
    /// </summary>
    public static IServiceCollection AddClusterStepBackend(this IServiceCollection services, int attentionRanks)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentOutOfRangeException.ThrowIfLessThan(attentionRanks, 1);
        services.TryAddSingleton<IStepBackend>(sp => new ClusterStepBackend(sp.GetRequiredService<IGrainFactory>(), attentionRanks, sp.GetService<ClusterConnectionEvents>()));
        return services;
    }

    /// <summary>
    /// As <see cref="AddClusterStepBackend"/>, with each rank's successful steps recorded in a <see cref="RankActivity"/> (also
    /// registered) for the readiness checks: a rank busy with a long step is not mistaken for a missing one.
    /// </summary>
    public static IServiceCollection AddObservedClusterStepBackend(this IServiceCollection services, int attentionRanks)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentOutOfRangeException.ThrowIfLessThan(attentionRanks, 1);
        services.TryAddSingleton(sp => new RankActivity(attentionRanks, sp.GetService<TimeProvider>()));
        services.TryAddSingleton<IStepBackend>(sp => new ActivityRecordingStepBackend(
            new ClusterStepBackend(sp.GetRequiredService<IGrainFactory>(), attentionRanks, sp.GetService<ClusterConnectionEvents>()),
            sp.GetRequiredService<RankActivity>()));
        return services;
    }
}
